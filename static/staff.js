// F2 in the staff console: on the Mirror form it signs in (as the Sign In button does);
// elsewhere it opens the Mirror page, for the guarantor on screen when there is one.
document.addEventListener("keydown", function (event) {
  if (event.key !== "F2") { return; }
  var form = document.querySelector("form[data-mirror-form]");
  if (form) {
    event.preventDefault();
    form.requestSubmit();
    return;
  }
  var links = document.querySelectorAll("a[data-staff-mirror]");
  if (links.length) {
    event.preventDefault();
    window.location.assign(links[links.length - 1].href);
  }
});
