// ClinicDesk's own browser code: dismissible messages and error toasts for htmx requests.
// Loaded as a file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function toast(message, kind) {
    var region = document.getElementById("live-region");
    if (!region) return;
    var item = document.createElement("div");
    item.className = "toast" + (kind ? " toast-" + kind : "");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    region.appendChild(item);
    setTimeout(function () { item.remove(); }, 8000);
  }
  window.clinicdesk = { toast: toast };

  // Forms that do something hard to undo ask first: <form data-confirm="...">.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) button.parentElement.remove();
  });

  // A failed htmx request says what went wrong, using the problem document's detail.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var message = "The request failed (" + xhr.status + "). Try again.";
    try {
      var problem = JSON.parse(xhr.responseText);
      if (problem && problem.detail) message = problem.detail;
    } catch (ignored) { /* not a problem document */ }
    toast(message, "error");
  });

  document.addEventListener("htmx:sendError", function () {
    toast("The server cannot be reached. Check the connection; your last action was not saved.", "error");
  });

  // Server-sent toasts: a response header `HX-Trigger: {"clinicdesk:toast": {"message": "..."}}`.
  document.addEventListener("clinicdesk:toast", function (event) {
    if (event.detail && event.detail.message) toast(event.detail.message, event.detail.kind);
  });
})();
