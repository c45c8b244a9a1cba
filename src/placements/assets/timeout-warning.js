// The inactivity warning (GOV.UK / HMRC timeout warning pattern), progressive enhancement
// only: without this file the dialog stays closed (so hidden) and the server-side idle
// timeout still signs the person out.
//
// Time is measured against deadlines, not by counting ticks, so a throttled background tab
// stays right. The deadline starts from when this page was requested, slightly before the
// server saw the request, so the page always gives up a moment before the server does.
//
// Not covered: activity in other tabs of the same session. Another tab's requests keep the
// session alive on the server, but this page does not know about them and will warn (and,
// at zero, post to /timed-out, which ends the session) on its own schedule.
const dialog = document.getElementById('timeout-warning')

if (dialog && typeof dialog.showModal === 'function') startTimeoutWarning(dialog)

function startTimeoutWarning(dialog) {
  const idleSeconds = Number(dialog.dataset.idleSeconds)
  const warningSeconds = Number(dialog.dataset.warningSeconds)
  if (!(idleSeconds > 0) || !(warningSeconds > 0)) return

  const heading = dialog.querySelector('#timeout-warning-heading')
  const countdown = dialog.querySelector('#timeout-countdown')
  const announcement = dialog.querySelector('#timeout-announcement')
  const form = dialog.querySelector('form')
  const expiredForm = dialog.querySelector('#timeout-expired')
  const csrf = form.querySelector('input[name="_csrf"]').value

  // When the page was requested: a moment before the server saw the request. Should the
  // browser's answer be implausible, from now.
  const now = Date.now()
  const origin = window.performance.timeOrigin
  const pageStart = origin > 0 && origin <= now && now - origin < 60000 ? origin : now
  let deadline = pageStart + idleSeconds * 1000
  let returnFocusTo = null
  let lastAnnounced = null
  let extending = false
  let finished = false

  function secondsLeft() {
    return Math.max(0, Math.ceil((deadline - Date.now()) / 1000))
  }

  function tick() {
    if (finished) return
    const left = secondsLeft()
    if (left <= 0) return timedOut()
    if (left <= warningSeconds && !dialog.open && !extending) open(left)
    if (dialog.open) update(left)
  }

  function open(left) {
    returnFocusTo = document.activeElement
    lastAnnounced = left
    countdown.textContent = duration(left)
    announcement.textContent = ''
    dialog.showModal()
    // The heading, so a screen reader reads the dialog's name and message (aria-describedby) first.
    heading.focus()
  }

  // The visible countdown changes every second; the live region only now and then, so a
  // screen reader is told the time left without being talked over every second.
  function update(left) {
    countdown.textContent = duration(left)
    if (left !== lastAnnounced && shouldAnnounce(left)) {
      lastAnnounced = left
      announcement.textContent = `We'll sign you out in ${duration(left)}.`
    }
  }

  function shouldAnnounce(left) {
    if (left <= 20) return left === 20 || left === 10 || left === 5
    return left % 20 === 0
  }

  function close() {
    if (dialog.open) dialog.close()
    announcement.textContent = ''
    if (returnFocusTo && returnFocusTo.isConnected && typeof returnFocusTo.focus === 'function') returnFocusTo.focus()
    returnFocusTo = null
  }

  function timedOut() {
    finished = true
    window.clearInterval(timer)
    // A POST with the CSRF token: ending a session is never something a link can do.
    expiredForm.submit()
  }

  async function staySignedIn() {
    if (extending || finished) return
    extending = true
    const sentAt = Date.now()
    let response
    try {
      response = await fetch('/session/keep-alive', {
        method: 'POST',
        body: new window.URLSearchParams({ _csrf: csrf }),
        headers: { accept: 'application/json' },
        credentials: 'same-origin'
      })
    } catch {
      // Offline for a moment: the countdown goes on, and the warning stays (or comes back).
      extending = false
      return tick()
    }
    if (response.status === 401) return timedOut()
    if (!response.ok) {
      // Something unexpected: let the server answer the ordinary form instead.
      finished = true
      window.clearInterval(timer)
      return form.submit()
    }
    let seconds = idleSeconds
    try {
      const body = await response.json()
      if (body && Number(body.idleTimeoutSeconds) > 0) seconds = Number(body.idleTimeoutSeconds)
    } catch {
      // The default length will do.
    }
    deadline = sentAt + seconds * 1000
    extending = false
    close()
  }

  form.addEventListener('submit', (event) => {
    // "Sign out" posts the same form to /sign-out: let it go.
    if (event.submitter && event.submitter.id === 'timeout-sign-out') return
    event.preventDefault()
    staySignedIn()
  })

  // Escape means "stay signed in" too (the browser may already have closed the dialog).
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault()
    staySignedIn()
  })

  // The modal makes the page behind it inert; Tab and Shift+Tab also wrap inside it.
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return
    const controls = [...dialog.querySelectorAll('a[href], button:not([disabled]), input:not([type="hidden"])')]
      .filter((control) => !control.closest('[hidden]'))
    if (controls.length === 0) return
    const first = controls[0]
    const last = controls[controls.length - 1]
    if (event.shiftKey && (document.activeElement === first || document.activeElement === heading)) {
      event.preventDefault()
      last.focus()
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault()
      first.focus()
    }
  })

  document.addEventListener('visibilitychange', tick)
  window.addEventListener('pageshow', tick)
  const timer = window.setInterval(tick, 1000)
  tick()
}

/** "1 minute 59 seconds", "2 minutes", "10 seconds", "1 second". */
function duration(totalSeconds) {
  const minutes = Math.floor(totalSeconds / 60)
  const seconds = totalSeconds % 60
  const parts = []
  if (minutes > 0) parts.push(`${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`)
  if (seconds > 0 || minutes === 0) parts.push(`${seconds} ${seconds === 1 ? 'second' : 'seconds'}`)
  return parts.join(' ')
}
