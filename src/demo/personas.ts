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

export const demoPersonas = [
  { givenName: 'Anne', familyName: 'Wilson', email: 'anne.wilson@example.com', role: 'School user' },
  { givenName: 'Patricia', familyName: 'Adebayo', email: 'patricia.adebayo@example.com', role: 'Teacher training provider user' },
  { givenName: 'Mary', familyName: 'Lawson', email: 'mary.lawson@example.com', role: 'User in several organisations' },
  { givenName: 'Colin', familyName: 'Chapman', email: 'colin.chapman@education.gov.uk', role: 'Support user' }
]
