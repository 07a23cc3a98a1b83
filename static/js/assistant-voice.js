/* Voice input for the assistant (progressive enhancement): where the browser has speech recognition,
   a "Speak" button beside the question fills it with what was said; typing always works. The words
   are only put in the box: nothing is sent until the person presses Send. */
(function () {
  "use strict";

  function recognitionClass() { return window.SpeechRecognition || window.webkitSpeechRecognition || null; }

  function setUp(root) {
    var Recognition = recognitionClass();
    (root || document).querySelectorAll("[data-voice-for]").forEach(function (button) {
      if (!Recognition || button.dataset.voiceReady) { return; }
      button.dataset.voiceReady = "1";
      button.hidden = false;
      var status = document.getElementById(button.getAttribute("aria-describedby") || "");
      var listening = null;

      function say(text) { if (status) { status.textContent = text; } }

      button.addEventListener("click", function () {
        if (listening) { listening.stop(); return; }
        var box = document.getElementById(button.dataset.voiceFor);
        if (!box) { return; }
        var recognition = new Recognition();
        recognition.lang = document.documentElement.lang || navigator.language || "en";
        recognition.interimResults = false;
        recognition.maxAlternatives = 1;
        recognition.onresult = function (event) {
          var words = [];
          for (var i = event.resultIndex || 0; i < event.results.length; i++) {
            if (event.results[i].isFinal !== false) { words.push(event.results[i][0].transcript); }
          }
          var said = words.join(" ").trim();
          if (said) {
            box.value = box.value.trim() ? box.value.trim() + " " + said : said;
            box.dispatchEvent(new Event("input", { bubbles: true }));
            box.focus();
          }
        };
        recognition.onerror = function (event) {
          say(event.error === "not-allowed" ? "The microphone is not allowed for this site." :
              "Could not hear that; type it instead.");
        };
        recognition.onend = function () {
          listening = null;
          button.setAttribute("aria-pressed", "false");
          button.textContent = "Speak";
        };
        listening = recognition;
        button.setAttribute("aria-pressed", "true");
        button.textContent = "Stop listening";
        say("Listening…");
        try { recognition.start(); } catch (e) { recognition.onend(); say("Could not start listening."); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSwap", function (event) { setUp(event.target); });
}());
