/* Small behaviours for the dashboard; everything works without them. */
(function () {
  "use strict";

  function scroller() { return document.getElementById("message-scroll"); }
  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80; }

  // A conversation opens at its latest message and follows new ones, unless the reader scrolled up.
  var follow = true;
  document.addEventListener("DOMContentLoaded", function () {
    var el = scroller();
    if (el) { el.scrollTop = el.scrollHeight; }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var el = scroller();
    if (el && event.detail.target && event.detail.target.id === "thread-live") { follow = nearBottom(el); }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var el = scroller();
    if (el && follow && el.contains(event.detail.elt)) { el.scrollTop = el.scrollHeight; }
  });

  // On a phone the workspace navigation starts folded into its "Menu" (it is open in the HTML, for no-JS).
  var PHONE = window.matchMedia("(max-width: 720px)");
  document.addEventListener("DOMContentLoaded", function () {
    var menu = document.querySelector("details.nav-menu");
    if (menu && PHONE.matches) { menu.open = false; }
  });

  // Ctrl+Enter (Cmd+Enter) sends the reply being written.
  document.addEventListener("keydown", function (event) {
    var form = event.target.form;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form && form.id === "composer") {
      event.preventDefault();
      form.requestSubmit();
    }
  });

})();
