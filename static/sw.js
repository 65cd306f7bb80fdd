/* gamify's service worker (served at /sw.js: its scope is the whole site). It only shows the push
   notifications the server sends (payload JSON: title, body, url, tag) and opens their link when
   clicked; it caches nothing. */
"use strict";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "gamify", {
      body: data.body || "",
      tag: data.tag || undefined,  // a newer reminder replaces the older one
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/icon-maskable-192.png",
      data: { url: data.url || "/" },
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.openWindow(url));
});
