/* The unread badge in the frame's header: asks the notifications service how many of the signed-in person's
   notifications are unread, on load, every 25 seconds while the page is visible, and when the window gets the
   focus back. Polling, not server-sent events: each open SSE stream would hold one of gunicorn's threads. */
(function () {
  "use strict";
  var PERIOD_MS = 25000;
  var badge = document.getElementById("unread-badge");
  if (!badge || !window.fetch) return;
  var count = badge.querySelector(".unread-count");
  var url = badge.getAttribute("data-count-url");
  var timer = null;
  var busy = false;

  function show(body) {
    var n = body && typeof body.unread === "number" ? body.unread : 0;
    var text = body && body.capped ? "99+" : String(n);
    if (count.textContent !== text) count.textContent = text;
    badge.hidden = n === 0;
  }

  function ask() {
    if (busy || document.visibilityState === "hidden") return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) { stop(); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (body) { if (body) show(body); })
      .catch(function () { /* offline for a moment: the next turn asks again */ })
      .then(function () { busy = false; });
  }

  function stop() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  ask();
  timer = window.setInterval(ask, PERIOD_MS);
  window.addEventListener("focus", ask);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") ask();
  });
  window.addEventListener("pageshow", function (e) { if (e.persisted) ask(); });
})();
