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

  // Escape closes the open phone menu and gives the focus back to its button.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var toggle = document.querySelector(".nav-toggle[aria-expanded='true']");
    if (!toggle) return;
    toggle.setAttribute("aria-expanded", "false");
    document.getElementById(toggle.getAttribute("aria-controls")).classList.remove("open");
    toggle.focus();
  });

  /* ------------------------------------------------------------ light/dark theme */
  // html[data-theme] holds the player's choice (rendered by the server); without it the device's
  // preference applies (CSS light-dark()). The toggle's aria-pressed says whether the page is dark.
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function isDark() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t) return t === "dark";
    return !!(darkQuery && darkQuery.matches);
  }
  function syncThemeToggle() {
    var dark = isDark();
    document.querySelectorAll("[data-theme-toggle]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(dark));
      b.value = dark ? "light" : "dark";  // what pressing it asks for
    });
  }
  ready(syncThemeToggle);
  if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", syncThemeToggle);
  // HX-Trigger {"theme-changed": {"theme": "dark"|"light"|null}} after POST /theme: saved, so apply it.
  document.addEventListener("theme-changed", function (e) {
    var d = e.detail || {};
    var theme = d.theme !== undefined ? d.theme : (d.value && d.value.theme);
    var root = document.documentElement;
    if (theme) root.setAttribute("data-theme", theme); else root.removeAttribute("data-theme");
    var meta = document.querySelector('meta[name="color-scheme"]');
    if (meta) meta.setAttribute("content", theme || "light dark");
    syncThemeToggle();
  });

  /* ------------------------------------------------------------ announcements */
  // Elements with an id and data-announce (the energy bar, the bell) are replaced by HTMX polls; when
  // the text of a new one differs from the last one seen, it is read out through #announcer (a
  // polite live region). data-announce-silent: the change is already told by the response's own
  // live region (an action's result), so only remember it.
  var announced = {};
  function collectAnnouncements() {
    var news = [];
    document.querySelectorAll("[data-announce][id]").forEach(function (el) {
      var text = el.getAttribute("data-announce");
      var before = announced[el.id];
      announced[el.id] = text;
      if (before !== undefined && text && text !== before && !el.hasAttribute("data-announce-silent")) news.push(text);
    });
    return news;
  }
  function announce(text) {
    var box = document.getElementById("announcer");
    if (!box || !text) return;
    // Emptied first, so the same words said twice in a row are read twice.
    box.textContent = "";
    setTimeout(function () { box.textContent = text; }, 50);
  }
  window.gamifyAnnounce = announce;
  ready(function () {
    collectAnnouncements();
    var pending = false;
    new MutationObserver(function () {
      if (pending) return;
      pending = true;
      setTimeout(function () {
        pending = false;
        var news = collectAnnouncements();
        if (news.length) announce(news.join(". "));
      }, 0);
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-announce"] });
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

  /* ------------------------------------------------------------ streak calendar */
  // One day of [data-calendar] is in the tab order (roving tabindex); the arrow keys move by a day
  // (left/right) or a week (up/down), Home/End to the week's ends, Page Up/Down by a month, across
  // the month grids. The focused day's label is also shown in #cal-detail for sighted users.
  function isoShift(iso, days, months) {
    var p = iso.split("-").map(Number);
    var d = new Date(Date.UTC(p[0], p[1] - 1 + (months || 0), 1));
    var last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    d.setUTCDate(Math.min(p[2], last) + (days || 0));
    return d.toISOString().slice(0, 10);
  }
  document.addEventListener("keydown", function (e) {
    var cell = e.target.closest ? e.target.closest("[data-calendar] [data-date]") : null;
    if (!cell) return;
    var iso = cell.getAttribute("data-date"), target = null;
    var dow = (new Date(iso + "T00:00:00Z").getUTCDay() + 6) % 7;  // 0 = Monday
    switch (e.key) {
      case "ArrowLeft": target = isoShift(iso, -1); break;
      case "ArrowRight": target = isoShift(iso, 1); break;
      case "ArrowUp": target = isoShift(iso, -7); break;
      case "ArrowDown": target = isoShift(iso, 7); break;
      case "Home": target = isoShift(iso, -dow); break;
      case "End": target = isoShift(iso, 6 - dow); break;
      case "PageUp": target = isoShift(iso, 0, -1); break;
      case "PageDown": target = isoShift(iso, 0, 1); break;
      default: return;
    }
    e.preventDefault();
    var root = cell.closest("[data-calendar]");
    var next = root.querySelector('[data-date="' + target + '"]');
    if (!next) return;  // past either end of the calendar: stay
    cell.setAttribute("tabindex", "-1");
    next.setAttribute("tabindex", "0");
    next.focus();
  });
  document.addEventListener("focusin", function (e) {
    var cell = e.target.closest ? e.target.closest("[data-calendar] [data-date]") : null;
    var out = cell && document.getElementById("cal-detail");
    if (out) out.textContent = cell.getAttribute("aria-label");
  });

  /* ------------------------------------------------------------ sideways-scrolling boxes */
  // A wide table (or code block) scrolls inside its own box on a phone. While it overflows and holds
  // nothing focusable, the box itself is a named tab stop, so the arrow keys can scroll it (WCAG 2.1.1).
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  function boxName(el) {
    var cap = el.querySelector("caption");
    if (cap && cap.textContent.trim()) return cap.textContent.trim();
    var scope = el.closest("section, article, .card, main");
    var h = scope && scope.querySelector("h1, h2, h3");
    return h ? h.textContent.trim() : document.title;
  }
  function markScrollBoxes() {
    document.querySelectorAll(".table-wrap, pre").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1;
      var managed = el.hasAttribute("data-scroll-focus");
      if (scrolls && !managed && !el.querySelector(FOCUSABLE) && !el.hasAttribute("tabindex")) {
        el.setAttribute("data-scroll-focus", "");
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", boxName(el));
      } else if (!scrolls && managed) {
        ["data-scroll-focus", "tabindex", "role", "aria-label"].forEach(function (a) { el.removeAttribute(a); });
      }
    });
  }
  var scrollScan = null;
  function scheduleScrollScan() {
    if (scrollScan) return;
    scrollScan = requestAnimationFrame(function () { scrollScan = null; markScrollBoxes(); });
  }
  ready(markScrollBoxes);
  window.addEventListener("resize", scheduleScrollScan);
  document.addEventListener("htmx:afterSettle", scheduleScrollScan);
  document.addEventListener("toggle", scheduleScrollScan, true);  // a <details> opened

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
  function mmss(el) {
    var end = Date.parse(el.getAttribute("data-countdown-mmss"));
    if (isNaN(end)) return;
    var s = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    el.textContent = pad(Math.floor(s / 60)) + ":" + pad(s % 60);
  }
  var ticking = tick;
  tick = function () { ticking(); document.querySelectorAll("[data-countdown-mmss]").forEach(mmss); };
  ready(function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSettle", tick);

  /* ------------------------------------------------------------ refreshes without polling */
  // HTMX elements with hx-trigger="refresh-due" are refreshed only when there is a reason: the time the
  // server says they next change (data-refresh-in, seconds), the page coming back into view or focus
  // (data-refresh-on-focus), the player's own actions (data-refresh-after-actions: after any HTMX
  // request that is not a GET), and a slow fallback (data-refresh-every seconds, >= 60, while visible).
  // The timers live on the element: a swap replaces it, and the new one is armed from its attributes.
  var MIN_GAP = 2000;  // ms: never two refreshes of one element closer than this
  function fire(el) {
    if (!document.body.contains(el) || !window.htmx) return;
    var now = Date.now();
    if (el._lastRefresh && now - el._lastRefresh < MIN_GAP) return;
    el._lastRefresh = now;
    window.htmx.trigger(el, "refresh-due");
  }
  function arm(el) {
    clearTimeout(el._dueTimer); clearTimeout(el._slowTimer);
    var due = parseInt(el.getAttribute("data-refresh-in") || "", 10);
    if (due > 0) {
      // one refresh just after the due moment (a delay: the browser's clock may differ from the server's;
      // at least 5 s, so a server that keeps saying "now" is not asked in a loop; setTimeout's limit ~24.8 d)
      var wait = Math.min(Math.max(due * 1000 + 500, 5000), 2147483000);
      el._dueTimer = setTimeout(function () { if (!document.hidden) fire(el); }, wait);  // hidden: onView
    }
    var every = parseInt(el.getAttribute("data-refresh-every") || "0", 10);
    if (every >= 60) {
      el._slowTimer = setTimeout(function () { if (!document.hidden) fire(el); }, every * 1000);
    }
  }
  function armAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = Array.prototype.slice.call(scope.querySelectorAll("[data-refresh-in], [data-refresh-every]"));
    if (scope.matches && scope.matches("[data-refresh-in], [data-refresh-every]")) found.push(scope);
    found.forEach(arm);
  }
  ready(function () { armAll(document); });
  document.addEventListener("htmx:load", function (e) { armAll(e.target); });

  /* ------------------------------------------------------------ scrollable tables
     A table wider than a phone scrolls inside its .table-wrap; keyboard users can only scroll it if the
     wrapper takes the focus (WCAG 2.1.1). Only wrappers that scroll now join the tab order: re-checked
     on load, after swaps and on resize. The name of the region is the table's caption. */
  function markScrollables() {
    document.querySelectorAll(".table-wrap").forEach(function (w) {
      var scrolls = w.scrollWidth > w.clientWidth + 1;
      var ours = w.hasAttribute("data-scroll-focus");
      if (scrolls && !ours && !w.hasAttribute("tabindex")) {
        w.setAttribute("tabindex", "0");
        w.setAttribute("data-scroll-focus", "");
        var caption = w.querySelector("caption");
        var name = caption ? caption.textContent.trim() : "";
        if (name && !w.hasAttribute("role")) {
          w.setAttribute("role", "region");
          w.setAttribute("aria-label", name);
        }
      } else if (!scrolls && ours) {
        w.removeAttribute("tabindex");
        w.removeAttribute("data-scroll-focus");
        if (w.getAttribute("role") === "region") { w.removeAttribute("role"); w.removeAttribute("aria-label"); }
      }
    });
  }
  ready(markScrollables);
  document.addEventListener("htmx:load", markScrollables);
  window.addEventListener("resize", markScrollables);
  var lastFocusRefresh = Date.now();  // the page was just rendered: nothing to refresh on its first focus
  function onView() {
    if (document.hidden) return;
    var now = Date.now();
    if (now - lastFocusRefresh < 10000) return;  // focus and visibilitychange come in pairs
    lastFocusRefresh = now;
    document.querySelectorAll("[data-refresh-on-focus]").forEach(fire);
  }
  document.addEventListener("visibilitychange", onView);
  window.addEventListener("focus", onView);
  document.addEventListener("htmx:afterRequest", function (e) {
    var cfg = e.detail && e.detail.requestConfig;
    if (!cfg || (cfg.verb || "get").toLowerCase() === "get") return;
    document.querySelectorAll("[data-refresh-after-actions]").forEach(function (el) {
      if (el !== e.detail.elt) setTimeout(function () { fire(el); }, 300);  // after any out-of-band swap
    });
  });

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
