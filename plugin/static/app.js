// Small page behaviours, kept out of the HTML so the Content-Security-Policy can forbid inline
// scripts (plugin/headers.py). Pages opt in with data attributes:
//   data-confirm="…"   on a button or form: ask before submitting
//   data-select        on an input: select its text when clicked
//   data-copy          on a button: copy the value of the input just before it
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-confirm], [data-select], [data-copy]") : null;
    if (!el) return;
    if (el.hasAttribute("data-select")) { el.select(); return; }
    if (el.hasAttribute("data-copy")) {
      var source = el.previousElementSibling;
      if (source && navigator.clipboard) navigator.clipboard.writeText(source.value);
      return;
    }
    if (el.tagName !== "FORM" && !window.confirm(el.getAttribute("data-confirm"))) event.preventDefault();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute && form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
