/* gamify — progressive enhancement for the server-rendered pages (everything works without it,
   except live countdowns, the notification dropdown and toasts). No framework; htmx does the requests. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  /* ------------------------------------------------------------ collapsing top nav */
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest(".nav-toggle");
    if (!toggle) return;
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });

  /* ------------------------------------------------------------ toasts */
  var ICONS = { success: "✅", error: "⚠️", info: "ℹ️", achievement: "🏆", level: "⭐" };

  function dismiss(el) {
    if (!el || el.classList.contains("leaving")) return;
    el.classList.add("leaving");
    setTimeout(function () { el.remove(); }, 220);
  }

  function arm(el) {
    if (el.dataset.armed) return;
    el.dataset.armed = "1";
    if (!el.querySelector(".toast-close")) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "toast-close"; b.setAttribute("aria-label", "Dismiss"); b.textContent = "×";
      el.appendChild(b);
    }
    var ms = parseInt(el.dataset.timeout || "6000", 10);
    if (ms > 0) setTimeout(function () { dismiss(el); }, ms);
  }

  /** gamifyToast("Saved") or gamifyToast({message, title, kind, icon, timeout}) */
  window.gamifyToast = function (opts) {
    if (typeof opts === "string") opts = { message: opts };
    var box = document.getElementById("toasts");
    if (!box) return;
    var kind = opts.kind || "success";
    var el = document.createElement("div");
    el.className = "toast " + kind;
    if (opts.timeout !== undefined) el.dataset.timeout = opts.timeout;
    var icon = document.createElement("span");
    icon.className = "toast-icon"; icon.setAttribute("aria-hidden", "true");
    icon.textContent = opts.icon || ICONS[kind] || "🔔";
    var body = document.createElement("div");
    body.className = "toast-body";
    if (opts.title) {
      var t = document.createElement("div"); t.className = "toast-title"; t.textContent = opts.title; body.appendChild(t);
    }
    var m = document.createElement("div"); m.textContent = opts.message || ""; body.appendChild(m);
    el.appendChild(icon); el.appendChild(body);
    box.appendChild(el);
    arm(el);
  };

  // HX-Trigger: {"toast": {"message": "...", "kind": "success"}} (or a list of them)
  document.addEventListener("toast", function (e) {
    var d = e.detail || {};
    var list = Array.isArray(d.value) ? d.value : Array.isArray(d) ? d : [d.value && typeof d.value === "object" ? d.value : d];
    list.forEach(function (t) { if (t && (t.message || typeof t === "string")) window.gamifyToast(t); });
  });

  document.addEventListener("click", function (e) {
    var close = e.target.closest(".toast-close");
    if (close) dismiss(close.closest(".toast"));
  });

  ready(function () {
    var box = document.getElementById("toasts");
    if (!box) return;
    box.querySelectorAll(".toast").forEach(arm);
    // Toasts swapped in out-of-band (hx-swap-oob="beforeend:#toasts") get the same treatment.
    new MutationObserver(function () { box.querySelectorAll(".toast").forEach(arm); })
      .observe(box, { childList: true, subtree: true });
  });

  /* ------------------------------------------------------------ notification dropdown */
  function panel() { return document.getElementById("notif-panel"); }
  function bell() { return document.getElementById("bell"); }
  function closePanel(focusBell) {
    var p = panel(), b = bell();
    if (!p || p.hidden) return;
    p.hidden = true;
    if (b) b.setAttribute("aria-expanded", "false");
    if (focusBell && b) b.focus();
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest("#bell");
    var p = panel();
    if (b && p && window.htmx) {
      e.preventDefault();
      if (!p.hidden) { closePanel(false); return; }
      p.hidden = false;
      b.setAttribute("aria-expanded", "true");
      p.innerHTML = '<p class="empty"><span class="spinner" aria-hidden="true"></span> Loading…</p>';
      htmx.ajax("GET", b.getAttribute("data-panel-url"), { target: "#notif-panel", swap: "innerHTML" });
      return;
    }
    if (p && !p.hidden && !e.target.closest(".notif")) closePanel(false);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closePanel(true);
  });
  document.addEventListener("htmx:afterSwap", function () {
    var p = panel(), b = bell();
    if (p && b) b.setAttribute("aria-expanded", String(!p.hidden));
  });

  /* ------------------------------------------------------------ confirmations */
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);

  /* ------------------------------------------------------------ tabs loaded by htmx */
  // <a data-tab> in a <ul class="tabs">: the clicked tab becomes the current one.
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[data-tab]") : null;
    if (!a) return;
    a.closest("ul").querySelectorAll("a[data-tab]").forEach(function (t) { t.removeAttribute("aria-current"); });
    a.setAttribute("aria-current", "page");
  });

  /* ------------------------------------------------------------ live countdowns */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(end)) return;
      var s = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = s === 0 ? "expired" : (d ? d + "d " : "") + h + "h " + pad(m) + "m " + pad(sec) + "s";
    });
  }
  ready(function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSettle", tick);

  /* ------------------------------------------------------------ browser time zone */
  function browserTz() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  ready(function () {
    var tz = browserTz();
    if (!tz) return;
    // <select data-browser-tz data-tz-unset="1">: preselect the browser's zone when the player never chose one.
    document.querySelectorAll("select[data-browser-tz]").forEach(function (sel) {
      if (sel.getAttribute("data-tz-unset") !== "1" && sel.value !== "UTC") return;
      for (var i = 0; i < sel.options.length; i++) {
        if (sel.options[i].value === tz) {
          if (sel.value !== tz) {
            sel.value = tz;
            var note = document.getElementById(sel.id + "-detected");
            if (note) { note.hidden = false; note.querySelector("[data-tz-name]").textContent = tz; }
          }
          break;
        }
      }
    });
    // Suggestion banners: shown only when the browser's zone differs from the saved one.
    document.querySelectorAll("[data-tz-suggest]").forEach(function (el) {
      if (tz === el.getAttribute("data-current")) return;
      el.querySelectorAll("[data-tz-name]").forEach(function (n) { n.textContent = tz; });
      var input = el.querySelector("input[name=timezone]");
      if (input) input.value = tz;
      el.hidden = false;
    });
  });

  /* ------------------------------------------------------------ dependent form fields */
  // <div data-show-for="trigger:metric,streak"> is shown only while the control named "trigger" has one of the values.
  function syncDependents(root) {
    (root || document).querySelectorAll("[data-show-for]").forEach(function (el) {
      var spec = el.getAttribute("data-show-for").split(":");
      var form = el.closest("form") || document;
      var ctl = form.querySelector('[name="' + spec[0] + '"]');
      if (!ctl) return;
      var show = spec[1].split(",").indexOf(ctl.value) >= 0;
      el.hidden = !show;
    });
  }
  ready(function () { syncDependents(); });
  document.addEventListener("change", function (e) {
    if (e.target.name) syncDependents(e.target.closest("form"));
  });
})();
