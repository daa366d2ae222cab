// Live screens: keep parts of a page current from the server's event stream.
//
// A page declares its stream and the events it cares about:
//   <div id="live-config" hidden data-live-stream="/api/v1/events" data-live-events="queue.called ..."></div>
// and the parts to refresh, each an htmx element that reloads itself on "live:refresh":
//   <div id="x" data-live-refresh hx-get="/fragment" hx-trigger="live:refresh" hx-swap="outerHTML">
//
// On an event (a burst is gathered into one refresh) every part reloads. Without a stream
// (no EventSource, or it cannot be held) the parts reload every 30 seconds instead, and
// every 60 seconds anyway, so waiting times keep counting. "reset" from the server means
// events were missed: reload now. "end" means the credential no longer holds (signed
// out, display link revoked, status link expired): the page reloads, once, and shows
// what the server now says. A part the user is working in (a field has focus, a folded
// form is open) is not replaced under their hands; it catches up when they leave it.
//
// Also here, for the same screens: refused htmx forms show their message in place
// ([data-swap-errors]), inputs that remember their value ([data-remember]), and forms
// that clear themselves after a success ([data-reset-on-success]).
(function () {
  "use strict";

  var POLL_MS = 30000;
  var TICK_MS = 60000;
  var DEBOUNCE_MS = 300;
  var IDLE_CLOSE_MS = 90000;
  var END_KEY = "clinicdesk.live.ended";

  var source = null;
  var streamUrl = null;
  var connected = false;
  var everOpened = false;
  var debounceTimer = null;
  var pollTimer = null;
  var pendingTimer = null;
  var pending = {};
  var lastRefresh = Date.now();
  var lastActivity = Date.now();

  function regions() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-refresh]"));
  }

  function setStatus(text, kind) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = text;
      el.classList.remove("live-on", "live-poll", "live-off");
      el.classList.add("live-" + kind);
    });
  }

  // Someone is typing or choosing in the part, or has a folded form open in it.
  function busy(region) {
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active) &&
        /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) && active.type !== "hidden") {
      return true;
    }
    return region.querySelector("details[open]") !== null;
  }

  function reload(region) {
    region.classList.remove("live-paused");
    if (window.htmx) window.htmx.trigger(region, "live:refresh");
  }

  function refreshNow() {
    lastRefresh = Date.now();
    regions().forEach(function (region) {
      if (busy(region)) {
        pending[region.id] = true;
        region.classList.add("live-paused");
        watchPending();
      } else {
        delete pending[region.id];
        reload(region);
      }
    });
  }

  function refreshSoon() {
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(refreshNow, DEBOUNCE_MS);
  }

  // Paused parts catch up as soon as the user leaves them; a form left open and
  // untouched for a while is folded away so the screen does not stay stale.
  function watchPending() {
    if (pendingTimer) return;
    pendingTimer = setInterval(function () {
      var left = 0;
      Object.keys(pending).forEach(function (id) {
        var region = document.getElementById(id);
        if (!region) { delete pending[id]; return; }
        if (busy(region) && Date.now() - lastActivity > IDLE_CLOSE_MS) {
          var active = document.activeElement;
          if (!(active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName))) {
            region.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
          }
        }
        if (busy(region)) { left += 1; return; }
        delete pending[id];
        reload(region);
      });
      if (!left) { clearInterval(pendingTimer); pendingTimer = null; }
    }, 1000);
  }

  function activity() { lastActivity = Date.now(); }
  ["input", "keydown", "pointerdown"].forEach(function (name) {
    document.addEventListener(name, activity, true);
  });

  // --- polling: the fallback, and the minute tick --------------------------------------

  function schedulePoll() {
    clearTimeout(pollTimer);
    var every = connected ? TICK_MS : POLL_MS;
    pollTimer = setTimeout(function () {
      if (!document.hidden && Date.now() - lastRefresh >= every - 1000) refreshNow();
      schedulePoll();
    }, every);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && Date.now() - lastRefresh > 5000) refreshNow();
  });

  // --- the stream ----------------------------------------------------------------------

  function announce(type, data) {
    document.dispatchEvent(new CustomEvent("live:event", { detail: { type: type, data: data } }));
  }

  function parse(event) {
    try { return JSON.parse(event.data || "null"); } catch (ignored) { return null; }
  }

  function ended() {
    if (source) { source.close(); source = null; }
    connected = false;
    setStatus("Updating every 30 s", "poll");
    schedulePoll();
    // Reload once to show what the server says now (sign-in, link no longer valid);
    // a page that was just reloaded for this keeps polling instead of looping.
    var last = 0;
    try { last = Number(sessionStorage.getItem(END_KEY) || 0); } catch (ignored) { /* private mode */ }
    if (Date.now() - last > 60000) {
      try { sessionStorage.setItem(END_KEY, String(Date.now())); } catch (ignored) { /* private mode */ }
      setTimeout(function () { window.location.reload(); }, 500);
    }
  }

  function open(url, names) {
    if (!window.EventSource) {
      setStatus("Updating every 30 s", "poll");
      schedulePoll();
      return;
    }
    var started = Date.now();
    source = new EventSource(url);
    streamUrl = url;
    source.addEventListener("open", function () {
      var again = everOpened || Date.now() - started > 1500;
      everOpened = true;
      connected = true;
      setStatus("Live", "on");
      schedulePoll();
      if (again) refreshSoon(); // whatever happened while not connected
    });
    source.addEventListener("error", function () {
      connected = false;
      setStatus(source && source.readyState === EventSource.CONNECTING ? "Reconnecting… (updating every 30 s)" : "Updating every 30 s", "poll");
      schedulePoll();
    });
    names.forEach(function (name) {
      source.addEventListener(name, function (event) {
        announce(name, parse(event));
        refreshSoon();
      });
    });
    source.addEventListener("reset", function () { announce("reset", null); refreshNow(); });
    source.addEventListener("end", function () { announce("end", null); ended(); });
  }

  function start() {
    var config = document.getElementById("live-config");
    if (!config) return;
    var url = config.getAttribute("data-live-stream");
    if (!url || url === streamUrl) return;
    if (source) source.close();
    var names = (config.getAttribute("data-live-events") || "").split(/\s+/).filter(Boolean);
    open(url, names);
    schedulePoll();
  }

  document.addEventListener("live:changed", refreshSoon);
  document.addEventListener("htmx:load", start);
  window.addEventListener("pagehide", function () { if (source) source.close(); });

  // --- forms on live screens ------------------------------------------------------------

  // A refused step (404 gone, 409 moved on, 412 stale, 422 invalid) shows its message
  // where the user is looking instead of as an error toast.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    if ([403, 404, 409, 412, 422].indexOf(status) >= 0 && target && target.closest("[data-swap-errors]")) {
      var type = event.detail.xhr.getResponseHeader("Content-Type") || "";
      if (type.indexOf("text/html") === 0) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    }
  });

  function remember(root) {
    (root || document).querySelectorAll("[data-remember]").forEach(function (input) {
      var key = input.getAttribute("data-remember");
      var saved = null;
      try { saved = localStorage.getItem(key); } catch (ignored) { /* storage off */ }
      if (saved && !input.value) input.value = saved;
    });
  }
  document.addEventListener("input", function (event) {
    var input = event.target.closest && event.target.closest("[data-remember]");
    if (!input) return;
    try { localStorage.setItem(input.getAttribute("data-remember"), input.value.trim()); } catch (ignored) { /* storage off */ }
  });
  document.addEventListener("htmx:load", function (event) { remember(event.detail.elt); });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!event.detail.successful || !form || !form.matches || !form.matches("form[data-reset-on-success]")) return;
    form.reset();
    form.querySelectorAll("[data-reset-clear]").forEach(function (el) {
      if (el.dataset.initial !== undefined) el.innerHTML = el.dataset.initial;
    });
  });

  function boot() {
    document.querySelectorAll("[data-reset-clear]").forEach(function (el) {
      if (el.dataset.initial === undefined) el.dataset.initial = el.innerHTML;
    });
    remember(document);
    start();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
