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
  // Live answers: server-sent events (assistant/stream.py) while an answer is being written. Each piece
  // carries its offset (in characters) in the answer; pieces already shown are skipped, a gap (something
  // missed) hands over to the poll, which reads the stored row. Without EventSource, or when the stream
  // fails, ends or is lost, the element's own poll (hx-get every 300 ms) takes over.
  var streams = {};    // message element id -> open EventSource
  var noStream = {};   // message element ids the poll handles from now on

  function appendText(box, text) {
    var lines = text.split("\n");
    lines.forEach(function (line, i) {
      if (i > 0) { box.appendChild(document.createElement("br")); }
      if (line) { box.appendChild(document.createTextNode(line)); }
    });
  }

  function reload(el) {
    // The stored row: the final state after "end", or what arrived, then the poll continues.
    delete el.dataset.streamLive;
    if (document.body.contains(el) && window.htmx) {
      window.htmx.ajax("GET", el.getAttribute("hx-get"), { target: el, swap: "outerHTML" });
    }
  }

  function closeStream(id) {
    if (streams[id]) { streams[id].close(); delete streams[id]; }
  }

  function openStream(el) {
    var id = el.id;
    if (!window.EventSource || noStream[id] || !el.dataset.streamUrl) { return; }
    if (streams[id] && streams[id].element === el) { return; }  // DOMContentLoaded, then htmx:load
    closeStream(id);
    var count = parseInt(el.dataset.streamOffset || "0", 10);
    var box = el.querySelector(".assistant-text");
    var errors = 0;
    var raw = el.dataset.streamUrl;
    if (raw.charAt(0) === ":") {  // the stream server's port, on the host this page came from (make run)
      raw = window.location.protocol + "//" + window.location.hostname + raw;
    }
    var url = new URL(raw, window.location.href);
    var source = new EventSource(url.href, { withCredentials: url.origin !== window.location.origin });
    source.element = el;
    streams[id] = source;
    el.dataset.streamLive = "1";

    function handOver() {
      closeStream(id);
      noStream[id] = true;
      reload(el);
    }
    source.addEventListener("piece", function (event) {
      var piece = JSON.parse(event.data);
      var chars = Array.from(piece.d);
      if (piece.o > count) { handOver(); return; }
      if (piece.o + chars.length <= count) { return; }
      if (count === 0 && el.querySelector(".assistant-text .muted")) { box.textContent = ""; }
      appendText(box, chars.slice(count - piece.o).join(""));
      count = piece.o + chars.length;
      errors = 0;
      if (panel() && panel().contains(el)) { scrollDown(); }
    });
    source.addEventListener("end", function () {
      closeStream(id);
      noStream[id] = true;  // should the row still say "writing", the poll finds out when it ends
      reload(el);
    });
    source.addEventListener("lost", handOver);
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (resuming after the last event it saw); give up after a few.
      errors += 1;
      if (source.readyState === EventSource.CLOSED || errors > 2) { handOver(); }
    });
  }

  function openStreams(root) {
    if (!root || !root.querySelectorAll) { return; }
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-stream-url][data-status='streaming']"));
    if (root.matches && root.matches("[data-stream-url][data-status='streaming']")) { found.push(root); }
    found.forEach(openStream);
  }

  document.addEventListener("DOMContentLoaded", function () { openStreams(document.body); });
  document.addEventListener("htmx:load", function (event) { openStreams(event.detail.elt); });
  document.addEventListener("htmx:beforeRequest", function (event) {
    // While the stream is live, the element's poll is not needed.
    var elt = event.detail.elt;
    if (elt && elt.dataset && elt.dataset.streamLive === "1" && event.detail.requestConfig &&
        event.detail.requestConfig.verb === "get") {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id && streams[elt.id] && elt.dataset.streamLive === "1") { closeStream(elt.id); }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var el = panel();
    if (el && el.contains(event.detail.elt)) { scrollDown(); }
  });
})();
