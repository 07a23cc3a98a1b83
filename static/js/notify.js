/* Counts in the page title, browser notifications and an optional sound, from the #nav-counts poll.
   Notifications are asked for only when the person presses the button (never on load); the sound is off
   until they switch it on. Both choices stay in this browser (localStorage). */
(function () {
  "use strict";

  var NOTIFY_KEY = "sidekick-notifications";
  var SOUND_KEY = "sidekick-sound";
  var baseTitle = document.title.replace(/^\(\d+\) /, "");

  function stored(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function store(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function supported() { return "Notification" in window; }

  function showNotificationState() {
    var button = document.querySelector("[data-enable-notifications]");
    var state = document.querySelector("[data-notifications-state]");
    if (!button || !state) { return; }
    if (!supported()) { button.hidden = true; state.hidden = true; return; }
    var on = Notification.permission === "granted" && stored(NOTIFY_KEY) === "on";
    button.hidden = on || Notification.permission === "denied";
    state.hidden = !(on || Notification.permission === "denied");
    state.textContent = on ? "Browser notifications are on." : "Notifications are blocked in this browser's settings.";
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    var ctx = new Context();
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.3);
    osc.onended = function () { ctx.close(); };
  }

  function alertPerson(title, body) {
    if (stored(SOUND_KEY) === "on") { beep(); }
    if (supported() && Notification.permission === "granted" && stored(NOTIFY_KEY) === "on" && document.hidden) {
      var note = new Notification(title, { body: body, tag: "sidekick-" + title });
      note.onclick = function () { window.focus(); note.close(); };
    }
  }

  // What the last poll saw, per workspace and per tab, so a page change does not count as news.
  function previousKey(el) { return "sidekick-counts:" + el.getAttribute("hx-get"); }

  function onCounts(el) {
    var now = {
      attention: parseInt(el.dataset.attention, 10) || 0,
      unread: parseInt(el.dataset.unreadMessages, 10) || 0,
      latestEscalation: parseInt(el.dataset.latestEscalation, 10) || 0,
      mineUnread: parseInt(el.dataset.mineUnreadMessages, 10) || 0,
    };
    document.title = now.attention ? "(" + now.attention + ") " + baseTitle : baseTitle;
    var before = null;
    try { before = JSON.parse(window.sessionStorage.getItem(previousKey(el)) || "null"); } catch (e) { before = null; }
    try { window.sessionStorage.setItem(previousKey(el), JSON.stringify(now)); } catch (e) { /* ignore */ }
    if (!before) { return; }
    if (now.latestEscalation > before.latestEscalation) {
      alertPerson("New escalation", "Sidekick handed a conversation to the team.");
    } else if (now.mineUnread > (before.mineUnread || 0)) {
      alertPerson("New message for you", "A contact wrote in a conversation assigned to you.");
    } else if (now.unread > before.unread) {
      alertPerson("New message", "A contact wrote in the inbox.");
    }
  }

  document.addEventListener("htmx:load", function (event) {
    var el = event.detail.elt;
    if (el && el.id === "nav-counts" && el.dataset.attention !== undefined) { onCounts(el); }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-enable-notifications]") || !supported()) { return; }
    Notification.requestPermission().then(function (permission) {
      store(NOTIFY_KEY, permission === "granted" ? "on" : "off");
      showNotificationState();
    });
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-sound-toggle]")) {
      store(SOUND_KEY, event.target.checked ? "on" : "off");
      if (event.target.checked) { beep(); }  // a sample, and browsers allow audio after a click
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector("[data-sound-toggle]");
    if (toggle) { toggle.checked = stored(SOUND_KEY) === "on"; }
    showNotificationState();
  });
})();
