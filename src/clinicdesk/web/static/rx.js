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
})();
