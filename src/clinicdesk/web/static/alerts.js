// The alert bell in the header of every staff page: its count follows the signed-in
// person's alerts live.
//
// The bell (#alert-bell) reloads itself through htmx on "alerts:refresh". On a live
// screen, which already holds the page's event stream (live.js and its #live-config),
// the bell's events are added to that stream's list before live.js opens it (this
// script comes first in the page) and are heard as "live:event": one stream per page.
// Elsewhere the bell opens a stream of its own. Without a stream it asks every minute.
(function () {
  "use strict";

  var EVENTS = ["alert.raised", "alert.read"];
  var POLL_MS = 60000;
  var timer = null;
  var polling = false;

  function bell() { return document.getElementById("alert-bell"); }

  function refresh() {
    var element = bell();
    if (element && window.htmx) window.htmx.trigger(element, "alerts:refresh");
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  function poll() {
    if (polling) return;
    polling = true;
    setInterval(function () { if (!document.hidden) refresh(); }, POLL_MS);
  }

  function shareLiveScreen(config) {
    var names = (config.getAttribute("data-live-events") || "").split(/\s+/).filter(Boolean);
    EVENTS.forEach(function (name) { if (names.indexOf(name) < 0) names.push(name); });
    config.setAttribute("data-live-events", names.join(" "));
    document.addEventListener("live:event", function (event) {
      var type = event.detail && event.detail.type;
      if (type === "reset" || (type && type.indexOf("alert.") === 0)) soon();
    });
  }

  function ownStream() {
    if (!window.EventSource) { poll(); return; }
    var source = new EventSource("/api/v1/events");
    var opened = false;
    source.addEventListener("open", function () {
      if (opened) soon(); // reconnected: whatever came meanwhile
      opened = true;
    });
    EVENTS.concat(["reset"]).forEach(function (name) { source.addEventListener(name, soon); });
    source.addEventListener("end", function () { source.close(); poll(); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) poll();
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function boot() {
    if (!bell()) return;
    var config = document.getElementById("live-config");
    if (config) shareLiveScreen(config);
    else ownStream();
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) soon(); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
