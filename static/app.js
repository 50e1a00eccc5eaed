// Live countdown for held numbers; when a hold runs out the page reloads so the user sees
// the numbers returned (the server, not this script, decides what expired).
(function () {
  function tick() {
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.dataset.expiresAt) - Date.now()) / 1000));
      el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      el.classList.toggle("expired", left === 0);
      if (left === 0 && !el.dataset.reloading) {
        el.dataset.reloading = "1";
        setTimeout(function () { window.location.reload(); }, 1500);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
