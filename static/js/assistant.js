/* The assistant panel: open/closed remembered in localStorage, its body loaded on first opening. */
(function () {
  "use strict";
  var KEY = "sidekick.assistant.open";
  var loaded = false;

  function panel() { return document.getElementById("assistant-panel"); }
  function toggle() { return document.querySelector("[data-assistant-toggle]"); }

  function scrollDown() {
    var chat = document.querySelector("#assistant-panel .assistant-chat");
    if (chat) { chat.scrollTop = chat.scrollHeight; }
  }

  function setOpen(open, remember) {
    var el = panel();
    if (!el) { return; }
    el.hidden = !open;
    document.body.classList.toggle("assistant-open", open);
    var button = toggle();
    if (button) { button.setAttribute("aria-expanded", open ? "true" : "false"); }
    if (remember) {
      try { localStorage.setItem(KEY, open ? "1" : "0"); } catch (e) { /* private mode: not remembered */ }
    }
    if (open && !loaded && window.htmx) {
      loaded = true;
      window.htmx.ajax("GET", el.dataset.panelUrl, { target: "#assistant-body", swap: "innerHTML" });
    }
    if (open) {
      var text = document.getElementById("assistant-text");
      if (text && remember) { text.focus(); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var remembered = null;
    try { remembered = localStorage.getItem(KEY); } catch (e) { remembered = null; }
    if (remembered === "1") { setOpen(true, false); }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-assistant-toggle]")) { setOpen(true, true); }
    else if (event.target.closest("[data-assistant-close]")) { setOpen(false, true); }
  });
  document.addEventListener("keydown", function (event) {
    var form = event.target.form;
    if (event.key === "Escape" && panel() && !panel().hidden && panel().contains(event.target)) { setOpen(false, true); }
    // Enter sends, Shift+Enter makes a new line.
    if (event.key === "Enter" && !event.shiftKey && form && form.id === "assistant-form") {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var el = panel();
    if (el && el.contains(event.detail.elt)) { scrollDown(); }
  });
})();
