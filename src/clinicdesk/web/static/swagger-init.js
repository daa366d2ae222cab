// Starts Swagger UI for /docs from a file, so the page needs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var target = document.getElementById("swagger-ui");
  if (!target || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: target.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
