// The waiting-room screen: the clock, a soft chime when a new number is called, and
// what a TV needs (full screen, the screen kept awake, the pointer hidden).
//
// The chime is two soft tones made with Web Audio (no sound file). Browsers play sound
// only after someone touched the page, so the screen shows "Tap to turn on sound" once;
// the choice is remembered, and on a TV whose browser allows sound by itself (kiosk
// mode) the button does not come back.
(function () {
  "use strict";

  var SOUND_KEY = "clinicdesk.display.sound";
  var audio = null;
  var lastCall = null;

  function board() { return document.getElementById("tv-board"); }

  // --- the clock: the clinic's time, whatever zone the TV is set to --------------------

  function tick() {
    var el = document.querySelector("[data-clock]");
    var current = board();
    if (!el || !current) return;
    var offset = Number(current.getAttribute("data-offset-minutes") || 0);
    var local = new Date(Date.now() + offset * 60000);
    var h = local.getUTCHours();
    var m = local.getUTCMinutes();
    el.textContent = (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }

  // --- sound ---------------------------------------------------------------------------

  function wanted() {
    try { return localStorage.getItem(SOUND_KEY) === "on"; } catch (ignored) { return false; }
  }

  function context() {
    var Audio = window.AudioContext || window.webkitAudioContext;
    if (!Audio) return null;
    if (!audio) audio = new Audio();
    return audio;
  }

  function tone(ctx, frequency, start, length) {
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.22, start + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(start);
    osc.stop(start + length + 0.05);
  }

  function chime() {
    if (!wanted()) return;
    var ctx = context();
    if (!ctx || ctx.state !== "running") return;
    var now = ctx.currentTime + 0.02;
    tone(ctx, 784, now, 0.7); // G5
    tone(ctx, 587.33, now + 0.45, 0.9); // D5
  }

  function soundButton() { return document.querySelector("[data-sound]"); }

  function showSoundState() {
    var button = soundButton();
    if (!button) return;
    var ctx = wanted() ? context() : null;
    var playing = ctx && ctx.state === "running";
    button.hidden = false;
    button.textContent = playing ? "Sound on" : "Tap to turn on sound";
    button.classList.toggle("tv-button-quiet", !!playing);
    button.setAttribute("aria-pressed", playing ? "true" : "false");
  }

  function toggleSound() {
    if (wanted() && audio && audio.state === "running") {
      try { localStorage.setItem(SOUND_KEY, "off"); } catch (ignored) { /* storage off */ }
      audio.suspend().then(showSoundState);
      return;
    }
    try { localStorage.setItem(SOUND_KEY, "on"); } catch (ignored) { /* storage off */ }
    var ctx = context();
    if (!ctx) { showSoundState(); return; }
    ctx.resume().then(function () { chime(); showSoundState(); });
  }

  // --- a new call ------------------------------------------------------------------------

  function checkCall() {
    var current = board();
    if (!current) return;
    var key = current.getAttribute("data-call-key") || "";
    if (lastCall !== null && key && key !== lastCall) {
      chime();
      var now = current.querySelector(".tv-now");
      if (now) now.classList.add("tv-flash");
    }
    lastCall = key;
    tick();
  }

  // --- the TV: full screen, awake, no pointer ------------------------------------------

  var wakeLock = null;
  function stayAwake() {
    if (!navigator.wakeLock || document.hidden) return;
    navigator.wakeLock.request("screen").then(function (lock) { wakeLock = lock; }).catch(function () { /* not allowed here */ });
  }

  function fullScreenButton() {
    var button = document.querySelector("[data-fullscreen]");
    if (!button || !document.documentElement.requestFullscreen) return;
    button.hidden = !!document.fullscreenElement;
    button.addEventListener("click", function () {
      document.documentElement.requestFullscreen().catch(function () { /* refused */ });
    });
    document.addEventListener("fullscreenchange", function () { button.hidden = !!document.fullscreenElement; });
  }

  var idleTimer = null;
  function pointerMoved() {
    document.body.classList.remove("tv-idle-pointer");
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () { document.body.classList.add("tv-idle-pointer"); }, 4000);
  }

  function boot() {
    checkCall();
    setInterval(tick, 1000);
    var button = soundButton();
    if (button) button.addEventListener("click", toggleSound);
    if (wanted()) {
      var ctx = context();
      if (ctx && ctx.state !== "running") ctx.resume().then(showSoundState, showSoundState);
    }
    showSoundState();
    fullScreenButton();
    stayAwake();
    document.addEventListener("visibilitychange", function () { if (!wakeLock || wakeLock.released) stayAwake(); });
    document.addEventListener("mousemove", pointerMoved);
    pointerMoved();
    document.body.addEventListener("htmx:afterSettle", checkCall);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
