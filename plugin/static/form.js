// The public form: after a refused post, move the focus to the error summary so screen readers
// announce it (a static file: the Content-Security-Policy forbids inline scripts).
(function () {
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
