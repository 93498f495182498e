// The mail template editor's live preview (admin/mail_template_edit.html); a static file so the
// Content-Security-Policy can forbid inline scripts.
(function () {
  var form = document.getElementById("template-form");
  var subject = document.getElementById("t-subject"), body = document.getElementById("t-body");
  var outSubject = document.getElementById("preview-subject"), outBody = document.getElementById("preview-body");
  var problems = document.getElementById("preview-errors"), timer = null;
  // Only the preview's own box is rewritten; #template-errors (the server's answer) is left alone.
  function show(messages) {
    problems.textContent = "";
    problems.hidden = !messages.length;
    if (!messages.length) return;
    var ul = document.createElement("ul"); ul.className = "errors";
    messages.forEach(function (m) { var li = document.createElement("li"); li.textContent = m; ul.appendChild(li); });
    problems.appendChild(ul);
  }
  function refresh() {
    fetch(form.dataset.previewUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": form.elements["csrf_token"].value},
      body: JSON.stringify({subject: subject.value, body: body.value})
    }).then(function (r) { return r.json(); }).then(function (data) {
      show(data.errors || []);
      if (!data.errors) { outSubject.textContent = data.subject; if (outBody) outBody.textContent = data.body; }
    }).catch(function () {});
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
  subject.addEventListener("input", later); body.addEventListener("input", later);
  refresh();
})();
