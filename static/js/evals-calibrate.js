/* The calibration page: g / b label the shown case (and move on), j / k show the next and previous
   one. Each key presses the control marked data-key="<key>" inside #calibrate-case, so without this
   script the same buttons and links still work. */
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) { return; }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    var key = event.key.toLowerCase();
    if (["g", "b", "j", "k"].indexOf(key) < 0) { return; }
    var control = document.querySelector('#calibrate-case [data-key="' + key + '"]');
    if (!control) { return; }
    event.preventDefault();
    control.click();
  });
})();
