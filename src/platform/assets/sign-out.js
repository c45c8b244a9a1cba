// With JavaScript the provider sign-out confirms itself; without it, the button does.
const form = document.getElementById('op.logoutForm')
const button = document.getElementById('sign-out-button')
if (form && button) {
  const input = document.createElement('input')
  input.type = 'hidden'
  input.name = 'logout'
  input.value = 'yes'
  form.appendChild(input)
  form.submit()
}
