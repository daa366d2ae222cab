// Quick phrases in a note: a known ".trigger" followed by a space or Tab is replaced by
// its text, asked of the server (a builtin reads the patient's record there). The form
// says where to ask and which triggers exist (data-expand-url, data-triggers), so a Tab
// after anything else still moves to the next field. Loaded as a file (no inline script).
(function () {
  "use strict";
  if (window.clinicdeskNotes) return;
  window.clinicdeskNotes = true;

  var TRIGGER = /(^|[^\w.])\.([A-Za-z][A-Za-z0-9_-]{0,29})$/;

  function known(form, word) {
    var list = (form.dataset.triggers || "").split(/\s+/);
    return list.indexOf(word.toLowerCase()) !== -1;
  }

  function csrf(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function expand(field, form, start, end, after) {
    var body = new URLSearchParams();
    body.set("text", field.value.slice(start, end));
    body.set("csrf_token", csrf(form));
    fetch(form.dataset.expandUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(form), "Accept": "application/json" },
      body: body
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (answer) {
      var text = answer.text + after;
      field.setRangeText(text, start, end, "end");
      // The autosave listens for typing: this counts as typing.
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.dispatchEvent(new KeyboardEvent("keyup", { bubbles: true }));
    }).catch(function () {
      field.setRangeText(after, end, end, "end");
      if (window.clinicdesk) window.clinicdesk.toast("The quick phrase could not be expanded; the text is as typed.", "error");
    });
  }

  // Text typed since the last save: leaving the page then asks first (the autosave runs
  // 3 s after typing stops; a click on "Finish" or a link may come sooner).
  var unsaved = false;
  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("form[data-note-phrases]")) unsaved = true;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var path = event.detail.pathInfo && event.detail.pathInfo.requestPath;
    if (!path || !/\/note$/.test(path) || !event.detail.successful) return;
    if (event.detail.xhr.responseText.indexOf("note-error") === -1) unsaved = false;
  });
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-note-phrases]")) unsaved = false;
  });
  window.addEventListener("beforeunload", function (event) {
    if (!unsaved) return;
    event.preventDefault();
    event.returnValue = "";
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== " " && event.key !== "Tab") return;
    if (event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) return;
    var field = event.target;
    if (!(field instanceof HTMLTextAreaElement)) return;
    var form = field.closest("form[data-note-phrases]");
    if (!form || field.selectionStart !== field.selectionEnd) return;
    var end = field.selectionStart;
    var match = TRIGGER.exec(field.value.slice(0, end));
    if (!match || !known(form, match[2])) return;
    event.preventDefault();
    var start = end - match[2].length - 1;
    expand(field, form, start, end, " ");
  });
})();
