// Upload with a byte-level progress bar (XMLHttpRequest upload events), then hand the job
// fragment to htmx, which polls the server-side progress every second.
(function () {
  var form = document.getElementById("upload-form");
  if (!form) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var transfer = document.getElementById("upload-transfer");
    var bar = document.getElementById("transfer-bar");
    var status = document.getElementById("upload-status");
    var button = document.getElementById("upload-button");
    var token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      transfer.hidden = true;
      button.disabled = false;
      status.innerHTML = xhr.responseText;
      if (window.htmx) window.htmx.process(status);
    });
    xhr.addEventListener("error", function () {
      transfer.hidden = true;
      button.disabled = false;
      status.textContent = "The upload failed: check the connection and try again.";
    });
    transfer.hidden = false;
    button.disabled = true;
    status.innerHTML = "";
    xhr.send(new FormData(form));
  });
})();
