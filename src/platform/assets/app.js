// Progressive enhancement only: every page works without this file.
import { initAll } from '/assets/govuk-frontend.min.js'

revealConditionalRadios()
initAll()

/**
 * Radios whose choice reveals more questions (GOV.UK's conditional reveal). GOV.UK Frontend
 * does this too, but also puts aria-expanded on each radio, which ARIA does not allow on a
 * radio (axe: aria-allowed-attr), and sets it on any radio with aria-controls. The same
 * reveal with aria-controls only: these radios are taken over here, before initAll(), and
 * GOV.UK Frontend's Radios (whose only job is the reveal) is not started on them. Without
 * JavaScript every conditional section shows.
 */
function revealConditionalRadios() {
  const inputs = [...document.querySelectorAll('input.govuk-radios__input[data-aria-controls]')]
  if (inputs.length === 0) return
  for (const input of inputs) {
    input.closest('[data-module="govuk-radios"]')?.removeAttribute('data-module')
    input.setAttribute('aria-controls', input.getAttribute('data-aria-controls'))
    input.removeAttribute('data-aria-controls')
  }
  const sync = () => {
    for (const input of inputs) {
      document.getElementById(input.getAttribute('aria-controls'))?.classList.toggle('govuk-radios__conditional--hidden', !input.checked)
    }
  }
  for (const input of inputs) {
    for (const radio of document.querySelectorAll('input[type="radio"]')) {
      if (radio.name === input.name) radio.addEventListener('change', sync)
    }
  }
  // The browser may restore choices on back and forward, after the page was first shown.
  window.addEventListener('pageshow', sync)
  sync()
}
