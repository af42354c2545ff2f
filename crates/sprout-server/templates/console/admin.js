// Sprout console: the admin pages' small helps. A row's button that needs a typed confirmation
// is enabled once the name is typed (the server checks it again), and a chosen PEM file fills its
// textarea (pasting works without this script). No library, no build step.
"use strict";
(function () {
  for (const input of document.querySelectorAll("input.confirm[data-expect]")) {
    const button = input.form.querySelector("button[type=submit]");
    const check = () => { button.disabled = input.value !== input.dataset.expect; };
    input.addEventListener("input", check);
    check();
  }
  for (const picker of document.querySelectorAll("input[type=file][data-fill]")) {
    picker.addEventListener("change", () => {
      const file = picker.files[0];
      const area = document.getElementById(picker.dataset.fill);
      if (file && area) file.text().then((text) => { area.value = text; });
    });
  }
})();
