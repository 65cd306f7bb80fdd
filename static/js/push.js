/* The settings page's push control: registers the service worker (/sw.js), then subscribes this browser
   with the server's VAPID key and posts the subscription (or removes it). Its state is shown on the
   control (data-state: on, off, denied, unsupported, error) and in its status line. */
(function () {
  "use strict";
  var box = document.querySelector("[data-push-control]");
  if (!box) return;
  var btn = box.querySelector("[data-push-toggle]");
  var status = box.querySelector("[data-push-status]");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var registration = null;

  function keyBytes(b64) {
    var s = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function show(state) {
    box.setAttribute("data-state", state);
    status.textContent = box.getAttribute("data-text-" + state) || "";
    btn.hidden = state === "unsupported";
    btn.disabled = state === "denied" || state === "busy";
    btn.setAttribute("aria-pressed", String(state === "on"));
    btn.textContent = box.getAttribute(state === "on" ? "data-label-off" : "data-label-on");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function subscribe() {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { show("denied"); return null; }
      return registration.pushManager
        .subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(box.getAttribute("data-public-key")) })
        .then(function (sub) { return post(box.getAttribute("data-subscribe-url"), sub.toJSON()); })
        .then(function () { show("on"); });
    });
  }

  function unsubscribe() {
    return registration.pushManager.getSubscription().then(function (sub) {
      if (!sub) { show("off"); return null; }
      return post(box.getAttribute("data-unsubscribe-url"), { endpoint: sub.endpoint })
        .then(function () { return sub.unsubscribe(); })
        .then(function () { show("off"); });
    });
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    show("unsupported");
    return;
  }
  show("busy");
  navigator.serviceWorker
    .register(box.getAttribute("data-sw-url"), { scope: "/" })
    .then(function () { return navigator.serviceWorker.ready; })
    .then(function (reg) {
      registration = reg;
      if (Notification.permission === "denied") { show("denied"); return null; }
      return reg.pushManager.getSubscription().then(function (sub) { show(sub ? "on" : "off"); });
    })
    .catch(function () { show("error"); });

  btn.addEventListener("click", function () {
    var on = box.getAttribute("data-state") === "on";
    show("busy");
    (on ? unsubscribe() : subscribe()).catch(function () { show("error"); });
  });
})();
