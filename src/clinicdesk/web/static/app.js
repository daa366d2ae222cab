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

  // The phone "Menu" (a <details>) closes on Escape and on a tap outside it, like
  // any other menu; without this script it still opens and closes on its summary.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details[data-site-menu][open]").forEach(function (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-site-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  // Tables on a phone: each cell is labelled with its column's heading (data-label), so
  // app.css can show a row as a small card of "heading: value" lines instead of a grid
  // wider than the screen. Tables marked data-keep-grid (side-by-side comparisons)
  // keep their columns and scroll inside their own box.
  function labelTables() {
    document.querySelectorAll("main table:not([data-keep-grid]):not(.compare)").forEach(function (table) {
      // A table without a heading row still wraps its rows; its cells just have no label.
      var headRow = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
      var labels = [];
      Array.prototype.forEach.call(headRow ? headRow.cells : [], function (cell) {
        for (var i = 0; i < (cell.colSpan || 1); i++) labels.push(cell.textContent.trim());
      });
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var column = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            if (labels[column] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", labels[column]);
            column += cell.colSpan || 1;
          });
        });
      });
      table.setAttribute("data-stack", "");
    });
  }
  document.addEventListener("DOMContentLoaded", labelTables);
  // Right after a swap, in the same task: a swapped-in table or row is never drawn as a
  // grid wider than the screen first.
  document.addEventListener("htmx:afterSwap", labelTables);
  document.addEventListener("htmx:oobAfterSwap", labelTables);
})();
