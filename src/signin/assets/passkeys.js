// Passkeys (ADR 12). Every passkey control is hidden in the page and shown here, only when
// this browser can use passkeys; without JavaScript the other ways to sign in remain.
// A form with data-passkey gets its options from data-options-url when it is sent, asks
// the browser (SimpleWebAuthn's bundle, served by Sign-in), puts the answer in its
// hidden "response" field and is sent as an ordinary form. A cancelled or failed
// ceremony sends an empty answer: the server then shows the error the GOV.UK way.
const webAuthn = window.SimpleWebAuthnBrowser

if (webAuthn?.browserSupportsWebAuthn()) {
  for (const section of document.querySelectorAll('[data-passkey-section]')) section.hidden = false
  for (const fallback of document.querySelectorAll('[data-passkey-fallback]')) fallback.hidden = true
  for (const form of document.querySelectorAll('form[data-passkey]')) form.addEventListener('submit', (event) => usePasskey(event, form))
}

async function usePasskey(event, form) {
  event.preventDefault()
  const button = form.querySelector('button[type="submit"]')
  if (button) button.disabled = true
  let answer
  try {
    const reply = await fetch(form.dataset.optionsUrl, { credentials: 'same-origin', headers: { accept: 'application/json' } })
    if (reply.status === 429) {
      // Too many challenges asked for: the server shows the limit's message.
      answer = 'too-many-requests'
    } else {
      const optionsJSON = await reply.json()
      const credential = form.dataset.passkey === 'register'
        ? await webAuthn.startRegistration({ optionsJSON })
        : await webAuthn.startAuthentication({ optionsJSON })
      answer = JSON.stringify(credential)
    }
  } catch {
    answer = ''
  }
  form.elements.response.value = answer
  form.submit()
}
