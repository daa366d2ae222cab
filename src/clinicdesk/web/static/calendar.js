// The appointment calendar: EventCalendar (vendored from npm) with ClinicDesk's dialogs.
//
// Times: the server sends wall-clock times of the location (ISO strings without an
// offset) and the calendar sends wall-clock strings back; the server converts them with
// the location's time zone. The browser's own zone never enters the calculation.
(function () {
  "use strict";

  function toast(message, kind) {
    if (window.clinicdesk && window.clinicdesk.toast) window.clinicdesk.toast(message, kind);
  }

  // Colour swatches carry their colour in data-color (the CSP forbids style attributes).
  function paintSwatches(root) {
    (root || document).querySelectorAll("[data-color]").forEach(function (el) {
      el.style.backgroundColor = el.dataset.color;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { paintSwatches(); });
  document.addEventListener("htmx:afterSwap", function (event) { paintSwatches(event.detail.target); });

  // A refused form in a dialog (409 taken, 412 stale, 422 invalid) shows its message in
  // place instead of an error toast.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ([403, 409, 412, 422].indexOf(status) >= 0 && event.detail.target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  var el = document.getElementById("calendar");
  if (!el || !window.EventCalendar) return;
  var config = JSON.parse(el.dataset.config);
  var dialog = document.getElementById("cal-dialog");
  var dialogBody = document.getElementById("cal-dialog-body");

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; }
    catch (ignored) { return ""; }
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function wallClock(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      "T" + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":00";
  }

  var opener = null;
  function openDialog(url) {
    opener = document.activeElement;
    htmx.ajax("GET", url, { target: dialogBody, swap: "innerHTML" }).then(function () {
      if (!dialog.open) dialog.showModal();
      var first = dialogBody.querySelector("[autofocus]") || dialogBody.querySelector("input:not([type=hidden]), select, button, a");
      if (first) first.focus();
    });
  }
  function closeDialog() {
    if (dialog.open) dialog.close();
  }
  dialog.addEventListener("close", function () {
    // The close event arrives a task after close(): a time clicked at once may already
    // have filled and reopened the dialog, whose new content must stay.
    if (dialog.open) return;
    dialogBody.innerHTML = "";
    if (opener && opener.focus) opener.focus();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-dialog]")) closeDialog();
  });

  function moveEvent(info) {
    var payload = { starts_at: wallClock(info.event.start), version: info.event.extendedProps.version };
    if (info.newResource) payload.provider_id = String(info.newResource.id);
    fetch("/calendar/appointments/" + info.event.id + "/move", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          info.revert();
          toast((data && data.detail) || "The appointment could not be moved. Reload and try again.", "error");
          return;
        }
        toast(data.message || "Moved.");
        calendar.refetchEvents();
      });
    }).catch(function () {
      info.revert();
      toast("The server cannot be reached; the appointment was not moved.", "error");
    });
  }

  // Phones: the all-providers day becomes an agenda (one column, a line per
  // appointment, with its provider) and a week keeps readable day columns that scroll
  // sideways inside the calendar, never the page.
  var phone = window.matchMedia("(max-width: 576px)");
  function shownView() {
    return phone.matches && config.view === "resourceTimeGridDay" ? "listDay" : config.view;
  }
  function columnWidth() { return phone.matches ? "minmax(5.75rem, 1fr)" : undefined; }
  var providerNames = {};
  (config.resources || []).forEach(function (r) { providerNames[r.id] = r.title; });

  var calendar = EventCalendar.create(el, {
    view: shownView(),
    columnWidth: columnWidth(),
    noEventsContent: "No appointments on this day.",
    date: config.date,
    resources: config.resources,
    firstDay: 1,
    allDaySlot: false,
    nowIndicator: true,
    slotDuration: "00:15",
    slotLabelInterval: "01:00",
    slotMinTime: config.slotMinTime,
    slotMaxTime: config.slotMaxTime,
    slotHeight: 22,
    scrollTime: config.slotMinTime,
    height: "auto",
    editable: config.canWrite,
    eventDurationEditable: false,
    eventStartEditable: config.canWrite,
    headerToolbar: { start: "prev,next today", center: "title", end: "" },
    buttonText: { today: "Today" },
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    dayHeaderFormat: { weekday: "short", day: "numeric", month: "short" },
    eventSources: [{
      events: function (info, success, failure) {
        var url = config.eventsUrl + (config.showCancelled ? "&cancelled=1" : "") +
          "&start=" + encodeURIComponent(info.startStr) + "&end=" + encodeURIComponent(info.endStr);
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : Promise.reject(response); })
          .then(success, function () {
            toast("The appointments could not be loaded. Reload the page.", "error");
            failure();
          });
      }
    }],
    eventDidMount: function (info) {
      if (info.event.display === "background") return;
      var provider = providerNames[info.event.resourceIds && info.event.resourceIds[0]];
      var title = info.el.querySelector(".ec-event-title");
      if (info.view.type.indexOf("list") === 0 && provider && title) {
        var who = document.createElement("span");
        who.className = "cal-list-provider";
        who.textContent = provider;
        title.appendChild(who);
      }
      info.el.setAttribute("role", "button");
      info.el.setAttribute("tabindex", "0");
      // The whole story on hover and for screen readers: a short event shows only the name.
      var details = info.event.extendedProps.details ||
        (info.event.title + ", " + wallClock(info.event.start).slice(11, 16));
      info.el.setAttribute("aria-label", details);
      info.el.setAttribute("title", details);
      info.el.dataset.appointmentId = info.event.id;
      info.el.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          openDialog("/calendar/appointments/" + info.event.id);
        }
      });
    },
    eventClick: function (info) {
      if (info.event.display === "background") return;
      openDialog("/calendar/appointments/" + info.event.id);
    },
    dateClick: function (info) {
      if (!config.canWrite) return;
      var provider = info.resource ? info.resource.id : config.providerId;
      if (!provider) return;
      openDialog("/calendar/book?location_id=" + config.locationId + "&provider_id=" + provider +
        "&start=" + encodeURIComponent(info.dateStr));
    },
    eventDrop: moveEvent,
    datesSet: function (info) {
      // Keep the address, the date field and the day-list link on the day shown.
      var day = info.startStr.slice(0, 10);
      var url = new URL(window.location.href);
      url.searchParams.set("date", day);
      window.history.replaceState(null, "", url);
      var field = document.getElementById("cal-date");
      if (field) field.value = day;
      var link = document.getElementById("cal-list-link");
      if (link) {
        var target = new URL(link.href);
        target.searchParams.set("date", day);
        link.href = target.toString();
      }
    }
  });

  phone.addEventListener("change", function () {
    calendar.setOption("columnWidth", columnWidth());
    calendar.setOption("view", shownView());
  });

  document.body.addEventListener("calendar:changed", function () { calendar.refetchEvents(); });

  // Cancelled appointments take no room unless asked for; the address keeps the choice.
  var showCancelled = document.getElementById("cal-show-cancelled");
  if (showCancelled) {
    showCancelled.addEventListener("change", function () {
      config.showCancelled = showCancelled.checked;
      var url = new URL(window.location.href);
      if (showCancelled.checked) url.searchParams.set("cancelled", "1");
      else url.searchParams.delete("cancelled");
      window.history.replaceState(null, "", url);
      calendar.refetchEvents();
    });
  }
  window.clinicdeskCalendar = calendar;
})();
