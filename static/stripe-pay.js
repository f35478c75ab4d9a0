// Mounts Stripe's Payment Element and confirms the deal's PaymentIntent; Stripe then returns the brand to PostPact.
document.addEventListener("DOMContentLoaded", function () {
  var mount = document.getElementById("payment-element");
  var form = document.getElementById("stripe-pay-form");
  var errorBox = document.getElementById("payment-error");
  var button = document.getElementById("pay-button");
  if (!mount || !form) { return; }
  function showError(message) { errorBox.textContent = message; errorBox.hidden = false; button.disabled = false; }
  if (!window.Stripe) { showError("Stripe's payment form could not load. Check your connection and reload."); return; }
  var stripe = window.Stripe(mount.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: mount.dataset.clientSecret });
  elements.create("payment").mount(mount);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    errorBox.hidden = true;
    stripe.confirmPayment({ elements: elements, confirmParams: { return_url: mount.dataset.returnUrl } })
      .then(function (result) { if (result.error) { showError(result.error.message); } });
  });
});
