// Print buttons: <button data-print>. A file of its own because the CSP forbids inline scripts.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
