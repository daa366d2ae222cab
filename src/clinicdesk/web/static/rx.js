// The Prescriptions section: picking a drug from the list fills the hidden drug_id (a
// coded drug); typing again makes it free text until another pick. Any change of the
// form asks the server for the sig and the safety findings (the preview). Delegated
// listeners on the document, set once: the section is swapped in again after each action.
(function () {
  if (window.clinicdeskRx) { return; }
  window.clinicdeskRx = true;

  function preview(form) {
    if (!window.htmx) { return; }
    window.htmx.ajax("POST", form.dataset.previewUrl, {
      source: form, target: form.querySelector("#rx-preview"), swap: "innerHTML", values: {}
    });
  }

  document.addEventListener("click", function (event) {
    var option = event.target.closest(".rx-option");
    if (!option) { return; }
    var form = option.closest("form[data-rx-form]");
    form.querySelector("[data-rx-drug-id]").value = option.dataset.drugId;
    var input = form.querySelector("#rx-drug");
    input.value = option.dataset.drugName;
    form.querySelector("#rx-options").innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    form.querySelector("[data-rx-coded]").textContent = "Coded from the drug vocabulary.";
    preview(form);
    form.querySelector("[name=strength]").focus();
  });

  document.addEventListener("input", function (event) {
    if (event.target.id !== "rx-drug") { return; }
    var form = event.target.closest("form[data-rx-form]");
    form.querySelector("[data-rx-drug-id]").value = "";
    event.target.setAttribute("aria-expanded", "true");
    form.querySelector("[data-rx-coded]").textContent =
      event.target.value ? "Not picked from the list: saved as uncoded free text." : "";
  });

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-rx-form]");
    if (!form || event.target.name === "override_reason") { return; }
    preview(form);
  });

  // A preview answers with the override reason as it was when it was asked for. Typed
  // while the answer was on its way (tabbing on from Days and typing at once), the
  // reason would be swapped away, and the prescription then refused for the want of
  // it: what is in the field when the answer lands is kept, with the caret.
  var kept = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target.id !== "rx-preview") { return; }
    var field = document.getElementById("rx-override");
    kept = field && field.value
      ? { value: field.value, focused: document.activeElement === field }
      : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "rx-preview" || !kept) { return; }
    var field = document.getElementById("rx-override");
    if (field) {
      field.value = kept.value;
      if (kept.focused) {
        field.focus();
        field.setSelectionRange(field.value.length, field.value.length);
      }
    }
    kept = null;
  });
})();
