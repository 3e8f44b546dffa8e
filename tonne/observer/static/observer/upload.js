// Shows the upload's progress for large exports; the page still works without it.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("observer-upload");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var bar = document.getElementById("observer-progress");
  var text = document.getElementById("observer-progress-text");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    bar.hidden = false;
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var share = Math.round((e.loaded / e.total) * 100);
      bar.value = share;
      text.textContent = share < 100 ? "Uploading: " + share + "%" : "Uploaded; reading and mapping the rows…";
    });
    request.addEventListener("load", function () {
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () { text.textContent = "The upload failed; try again."; });
    request.send(new FormData(form));
  });
});
