/**
 * The demo personas, development only: each service seeds its own side of them (Sign-in
 * their accounts, Placements their users and memberships), so they live apart from both.
 */
export const demoPassword = 'school-placements-demo-2026'

/**
 * Development only: the support persona's authenticator app secret (base32), so a
 * newcomer can add it to an app (or compute codes) and sign in as Colin. Never used
 * outside development and tests; printed at start in development and in the README.
 */
export const demoAppSecret = 'DEVELOPMENTONLYCOLINCHAPMANTOTP2'
export const demoAppPersonaEmail = 'colin.chapman@education.gov.uk'

/**
 * Development only: the support persona's recovery codes, as anyone with an authenticator
 * app has (ADR 10), so "Use a recovery code" can be tried as Colin. Each works once;
 * delete `data/` to get them back. Listed in the README; never seeded outside development.
 */
export const demoRecoveryCodes = [
  'dev23-aaaa2', 'dev23-aaaa3', 'dev23-aaaa4', 'dev23-aaaa5', 'dev23-aaaa6',
  'dev23-aaaa7', 'dev23-aaaa8', 'dev23-aaaa9', 'dev23-aaaab', 'dev23-aaaac'
]

export const demoPersonas = [
  { givenName: 'Anne', familyName: 'Wilson', email: 'anne.wilson@example.com', role: 'School user' },
  { givenName: 'Patricia', familyName: 'Adebayo', email: 'patricia.adebayo@example.com', role: 'Teacher training provider user' },
  { givenName: 'Mary', familyName: 'Lawson', email: 'mary.lawson@example.com', role: 'User in several organisations' },
  { givenName: 'Colin', familyName: 'Chapman', email: 'colin.chapman@education.gov.uk', role: 'Support user' }
]
