/* The inbox and thread pages: split view, keyboard shortcuts, bulk selection. Everything works
   without it (rows are links, actions are forms). */
(function () {
  "use strict";

  var WIDE = window.matchMedia("(min-width: 1024px)");
  var selectedId = null;  // the row j/k selected, kept across the list's refreshes

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#thread-list .thread-row")); }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) { selectedId = null; return; }
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    selectedId = row.dataset.threadId;
    row.scrollIntoView({ block: "nearest" });
  }

  // The selected row by its thread id, not by its class: a list refresh that lands between two key
  // presses replaces the rows, and the class is only put back once the swap settles.
  function selectedRow() {
    return selectedId ? document.querySelector('#thread-list .thread-row[data-thread-id="' + selectedId + '"]') : null;
  }

  function markOpen(id) {
    rows().forEach(function (r) { r.classList.toggle("open", r.dataset.threadId === String(id)); });
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var at = all.findIndex(function (r) { return r.dataset.threadId === selectedId; });
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  // Phones (and narrow windows) keep plain list → thread navigation: the row's HTMX request into the
  // (hidden) pane is cancelled and the link followed instead.
  document.addEventListener("htmx:confirm", function (event) {
    var link = event.target.closest && event.target.closest(".thread-row a");
    var click = event.detail && event.detail.triggeringEvent;
    if (link && click && (click.ctrlKey || click.metaKey || click.shiftKey)) {
      event.preventDefault();  // a new tab or window, as for any link
      window.open(link.href, "_blank", "noopener");
    } else if (link && !WIDE.matches) {
      event.preventDefault();
      window.location.assign(link.href);
    } else if (link) {
      markOpen(link.closest(".thread-row").dataset.threadId);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "thread-pane") {
      var scroller = document.getElementById("message-scroll");
      if (scroller) { scroller.scrollTop = scroller.scrollHeight; }
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    // The list was re-rendered (a poll, a tab, a bulk action): restore the selection and the open row.
    var list = document.getElementById("thread-list");
    if (!list) { return; }
    if (selectedId) {
      var row = list.querySelector('.thread-row[data-thread-id="' + selectedId + '"]');
      if (row) { row.classList.add("selected"); row.setAttribute("aria-selected", "true"); }
    }
    var match = window.location.pathname.match(/\/inbox\/(\d+)\/$/);
    if (match) { markOpen(match[1]); }
    var all = document.getElementById("select-all");
    if (all && !list.querySelector(".row-check:checked")) { all.checked = false; }
  });

  // A thread's page loaded in full (the split layout, see `thread_detail`): its row is the open one.
  var opened = window.location.pathname.match(/\/inbox\/(\d+)\/$/);
  if (opened) { markOpen(opened[1]); }

  document.addEventListener("change", function (event) {
    if (event.target.id === "select-all") {
      document.querySelectorAll("#thread-list .row-check").forEach(function (box) { box.checked = event.target.checked; });
    }
  });

  // A shortcut form is submitted once per render: a second press before the answer does nothing (the
  // server refuses a repeat anyway: the draft is claimed, the status update is conditional).
  function submitOnce(selector) {
    var form = document.querySelector(selector);
    if (!form || form.dataset.submitted) { return false; }
    form.dataset.submitted = "1";
    form.requestSubmit();
    return true;
  }

  // A thread is open (its page, or the split view's pane): `e` acts on it, not on the list's selection.
  function threadOpen() { return !!document.getElementById("thread-controls"); }

  // No thread open: `e` resolves the row j/k selected. The answer's HX-Trigger (inbox-changed) refreshes
  // the list, which drops the row from the open tab; a second press before that posts nothing more.
  function resolveSelected() {
    var row = selectedRow();
    if (!row || !row.dataset.doneUrl || row.dataset.submitted) { return false; }
    row.dataset.submitted = "1";
    htmx.ajax("POST", row.dataset.doneUrl, { source: row, target: row, swap: "none" });
    return true;
  }

  var SHORTCUTS = [
    ["j", "Next conversation"], ["k", "Previous conversation"], ["Enter", "Open the selected conversation"],
    ["r", "Reply (focus the message box)"], ["a", "Approve and send the pending draft"],
    ["e", "Resolve the open conversation (or the selected one)"], ["?", "Show these shortcuts"],
  ];

  function shortcutsDialog() {
    var dialog = document.getElementById("shortcuts-dialog");
    if (dialog) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.id = "shortcuts-dialog";
    dialog.setAttribute("aria-labelledby", "shortcuts-title");
    var article = document.createElement("article");
    var title = document.createElement("h2");
    title.id = "shortcuts-title";
    title.textContent = "Keyboard shortcuts";
    article.appendChild(title);
    var list = document.createElement("dl");
    list.className = "shortcut-list";
    SHORTCUTS.forEach(function (pair) {
      var key = document.createElement("dt");
      var kbd = document.createElement("kbd");
      kbd.textContent = pair[0];
      key.appendChild(kbd);
      var what = document.createElement("dd");
      what.textContent = pair[1];
      list.appendChild(key);
      list.appendChild(what);
    });
    article.appendChild(list);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "small";
    close.textContent = "Close";
    close.addEventListener("click", function () { dialog.close(); });
    article.appendChild(close);
    dialog.appendChild(article);
    document.body.appendChild(dialog);
    return dialog;
  }

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var dialog = document.getElementById("shortcuts-dialog");
    if (dialog && dialog.open) { return; }
    var handled = true;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": {
        // Enter on a focused link or button keeps its own meaning.
        var row = selectedRow();
        var link = row && row.querySelector("a");
        var own = event.target.closest && event.target.closest("a, button, summary");
        if (link && !own) { link.click(); } else { handled = false; }
        break;
      }
      case "r": {
        var box = document.querySelector("#composer textarea");
        if (box) { box.focus(); } else { handled = false; }
        break;
      }
      case "a": handled = submitOnce("form[data-shortcut='approve']"); break;
      case "e": handled = threadOpen() ? submitOnce("form[data-shortcut='resolve']") : resolveSelected(); break;
      case "?": shortcutsDialog().showModal(); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
})();
