// Fills hidden time-zone fields (sign-up) with the browser's zone. Without JavaScript the account starts in UTC
// and the zone can be chosen in the account settings.
(function () {
  function guess() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    document.querySelectorAll("input[data-guess-timezone]").forEach(function (input) {
      if (!input.value) { input.value = zone; }
    });
  }
  document.addEventListener("DOMContentLoaded", guess);
  document.addEventListener("htmx:afterSwap", guess);
})();
