// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function announce(id, text) {
    var status = document.getElementById(id);
    if (!status) return;
    status.textContent = "";
    // A fresh text node after a tick, so screen readers announce the same words twice in a row.
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function setUpCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        navigator.clipboard.writeText(source.innerText.trim()).then(
          function () {
            button.classList.add("copied");
            announce("copy-status", "Copied");
            button.firstChild.textContent = "Copied";
            window.setTimeout(function () {
              button.classList.remove("copied");
              button.firstChild.textContent = "Copy";
            }, 2000);
          },
          function () { announce("copy-status", "Could not copy; select the text and copy it by hand."); }
        );
      });
    });
  }

  // The builder's "Add a field": the formset must count the rows htmx added.
  document.addEventListener("htmx:afterSwap", function (event) {
    var rows = document.getElementById("field-rows");
    if (!rows || event.detail.target !== rows) return;
    var total = document.getElementById("id_fields-TOTAL_FORMS");
    var count = rows.querySelectorAll("tr.field-row").length;
    if (total) total.value = String(count);
    var added = rows.querySelector("tr.field-row:last-child input");
    if (added) added.focus();
    announce("builder-status", "Field " + count + " added.");
  });

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopyButtons(document);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });
})();
