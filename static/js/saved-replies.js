/* Saved replies in the composer: "/" at the start of a word opens a picker that searches as you type;
   Enter, Tab or a click puts the reply (already filled in for the contact) in place of "/word".
   Nothing is sent. Delegated from the document, so it also works after HTMX swaps the composer. */
(function () {
  "use strict";

  var timer = null;
  var lastQuery = null;

  function fieldOf(textarea) { return textarea.closest("[data-saved-replies-url]"); }
  function pickerOf(field) { return field.querySelector(".saved-reply-picker"); }

  // The "/word" being typed right before the caret, or null.
  function slashToken(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = /(^|\s)\/([^\s\/]*)$/.exec(before);
    if (!match) { return null; }
    return { start: before.length - match[2].length - 1, query: match[2] };
  }

  function close(field) {
    var picker = pickerOf(field);
    picker.hidden = true;
    picker.replaceChildren();
    lastQuery = null;
    field.querySelector("textarea").removeAttribute("aria-activedescendant");
  }

  function choose(field, option) {
    var textarea = field.querySelector("textarea");
    var token = slashToken(textarea);
    var start = token ? token.start : textarea.selectionStart;
    var text = option.dataset.text;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(textarea.selectionStart);
    var caret = start + text.length;
    textarea.setSelectionRange(caret, caret);
    close(field);
    textarea.focus();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function highlight(field, index) {
    var options = pickerOf(field).querySelectorAll("[role=option]");
    options.forEach(function (el, i) { el.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (options[index]) {
      field.querySelector("textarea").setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    }
  }

  function render(field, results) {
    var picker = pickerOf(field);
    picker.replaceChildren();
    if (!results.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = "No saved reply matches.";
      picker.appendChild(none);
    }
    results.forEach(function (r, i) {
      var li = document.createElement("li");
      li.id = "saved-reply-option-" + r.id;
      li.setAttribute("role", "option");
      li.dataset.text = r.text;
      var title = document.createElement("strong");
      title.textContent = r.title + (r.shortcut ? "  /" + r.shortcut : "");
      var preview = document.createElement("small");
      preview.textContent = r.text.length > 120 ? r.text.slice(0, 119) + "…" : r.text;
      li.append(title, preview);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(field, li); });
      picker.appendChild(li);
    });
    picker.hidden = false;
    highlight(field, 0);
  }

  function search(field, query) {
    if (query === lastQuery) { return; }
    lastQuery = query;
    var url = field.dataset.savedRepliesUrl + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { if (lastQuery === query) { render(field, data.results); } })
      .catch(function () { close(field); });
  }

  document.addEventListener("input", function (event) {
    var textarea = event.target;
    if (!(textarea instanceof HTMLTextAreaElement)) { return; }
    var field = fieldOf(textarea);
    if (!field) { return; }
    var token = slashToken(textarea);
    if (!token) { close(field); return; }
    clearTimeout(timer);
    timer = setTimeout(function () { search(field, token.query); }, 120);
  });

  document.addEventListener("keydown", function (event) {
    var textarea = event.target;
    if (!(textarea instanceof HTMLTextAreaElement)) { return; }
    var field = fieldOf(textarea);
    if (!field || pickerOf(field).hidden) { return; }
    var options = Array.prototype.slice.call(pickerOf(field).querySelectorAll("[role=option]"));
    var current = options.findIndex(function (el) { return el.getAttribute("aria-selected") === "true"; });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      highlight(field, (current + step + options.length) % Math.max(options.length, 1));
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey && options[current]) {
      event.preventDefault();
      event.stopPropagation();
      choose(field, options[current]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close(field);
    }
  }, true);

  document.addEventListener("focusout", function (event) {
    var field = event.target instanceof HTMLTextAreaElement && fieldOf(event.target);
    if (field) { setTimeout(function () { if (document.activeElement !== event.target) { close(field); } }, 150); }
  });
})();
