// Marks the page as scripted: styles that need this script (the folded phone menu) apply
// only then.
document.documentElement.classList.add("js");

// Live countdown for held numbers; when a hold runs out the page reloads so the user sees
// the numbers returned (the server, not this script, decides what expired).
(function () {
  function tick() {
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.dataset.expiresAt) - Date.now()) / 1000));
      var hours = Math.floor(left / 3600);
      var minutes = Math.floor((left % 3600) / 60);
      var seconds = String(left % 60).padStart(2, "0");
      // A hold waiting for a premium approval can last hours: "3:59:59", not "239:59".
      el.textContent = hours > 0
        ? hours + ":" + String(minutes).padStart(2, "0") + ":" + seconds
        : minutes + ":" + seconds;
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

// Buttons that ask first (data-confirm) and selects that submit their form when changed
// (data-autosubmit), without inline handlers: the Content-Security-Policy forbids inline
// script.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]")) {
    event.target.form.submit();
  }
});

// The navigation says which section the page belongs to (the longest link that starts the
// path: /numbers/orphaned is "Orphaned", not "Numbers").
document.addEventListener("DOMContentLoaded", function () {
  // A page outside every section's path names its section (`data-section` on main).
  var main = document.getElementById("main");
  var path = (main && main.dataset.section) || window.location.pathname;
  var best = null;
  document.querySelectorAll("nav.top a[href^='/']").forEach(function (link) {
    var href = link.getAttribute("href");
    if (href === "/" || link.classList.contains("brand")) { return; }
    if ((path === href || path.indexOf(href + "/") === 0) && (!best || href.length > best.getAttribute("href").length)) {
      best = link;
    }
  });
  if (best) { best.setAttribute("aria-current", "page"); }
});

// Toll-free numbers have no state, exchange, city or rate center: those fields hide (and are
// not sent) while Toll-free is picked.
document.addEventListener("change", function (event) {
  if (event.target.id !== "kind") { return; }
  var tollFree = event.target.value === "toll_free";
  document.querySelectorAll("[data-local-only]").forEach(function (field) {
    field.hidden = tollFree;
    field.querySelectorAll("input, select").forEach(function (control) { control.disabled = tollFree; });
  });
});

// A notice arrives in the address (?notice=…) after a redirect; once shown it leaves the
// address, so that a reload or a shared link does not announce it again.
document.addEventListener("DOMContentLoaded", function () {
  var url = new URL(window.location.href);
  if (!url.searchParams.has("notice")) { return; }
  url.searchParams.delete("notice");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
});

// A provisioning row asks for a new extension's name only when "New extension…" is picked.
(function () {
  function sync(select) {
    var field = select.form && select.form.querySelector(".new-extension");
    if (field) { field.hidden = select.value !== "extension:new"; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".provision-form select[name=target]").forEach(sync);
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches(".provision-form select[name=target]")) { sync(event.target); }
  });
})();

// Search results: each tick goes to the cart on the server (htmx posts the form when a box
// changes; the answer is the cart line). The header box ticks every number on the page. A
// tick the cart refused (it was full, the number was just taken) comes undone: the answer
// names those (data-refused), and only those, so ticks made meanwhile stay as they are.
(function () {
  function pickAll(form) {
    var boxes = form.querySelectorAll("input[name=number]");
    var ticked = form.querySelectorAll("input[name=number]:checked").length;
    var all = form.querySelector("#pick-all");
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }
  function undoRefused() {
    var form = document.getElementById("reserve-form");
    var line = document.getElementById("cart-line");
    if (!form || !line) { return; }
    var refused = (line.dataset.refused || "").split(" ");
    form.querySelectorAll("input[name=number]").forEach(function (box) {
      if (refused.indexOf(box.value) !== -1) { box.checked = false; }
    });
    pickAll(form);
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest("#reserve-form");
    if (!form) { return; }
    if (event.target.id === "pick-all") {
      form.querySelectorAll("input[name=number]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    pickAll(form);
  });
  document.addEventListener("DOMContentLoaded", undoRefused);
  document.addEventListener("htmx:afterSwap", undoRefused);
})();

// A form that reserves submits once: a second click would only wait for the first.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches("[data-submit-once]")) { return; }
  if (form.dataset.submitted) { event.preventDefault(); return; }
  form.dataset.submitted = "1";
});
// A page brought back by the Back button may submit again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submitted]").forEach(function (form) {
    delete form.dataset.submitted;
  });
});

// On a phone the navigation folds behind the Menu button.
document.addEventListener("click", function (event) {
  var button = event.target.closest("#menu-button");
  if (!button) { return; }
  var nav = button.closest("nav.top");
  var open = nav.classList.toggle("open");
  button.setAttribute("aria-expanded", open ? "true" : "false");
});

// Narrow screens show tables as stacked cards: each cell carries its column's name.
(function () {
  function label() {
    document.querySelectorAll("table.grid").forEach(function (table) {
      var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (names[i] && !cell.dataset.label) { cell.dataset.label = names[i]; }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", label);
  document.addEventListener("htmx:afterSwap", label);
})();

// On a wide screen the search's further filters start unfolded; on a phone, folded.
document.addEventListener("DOMContentLoaded", function () {
  var more = document.getElementById("more-filters");
  if (more && window.matchMedia("(min-width: 721px)").matches) { more.open = true; }
});

// A box that ticks every box of its form with the name it gives (data-select-all="number").
document.addEventListener("change", function (event) {
  var all = event.target;
  if (!all.matches("[data-select-all]") || !all.form) { return; }
  all.form.querySelectorAll("input[type=checkbox][name='" + all.dataset.selectAll + "']").forEach(function (box) {
    box.checked = all.checked;
  });
});

// "Back to your selection": the browser's own Back keeps the ticks the page had.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-history-back]")) { window.history.back(); }
});
