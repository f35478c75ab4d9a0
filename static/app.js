// PostPact's own script: small htmx settings. Every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  // The error page's "Go back" (no inline handlers: the Content-Security-Policy allows scripts from /static only).
  document.querySelectorAll("[data-history-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
    });
  });
  if (!window.htmx) { return; }
  // Forms answer 422 with the form re-rendered and its field errors, 409/429/503 with a message: swap those too.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "(409|422|429|503)", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];
});
