"""Voice input in Chromium (issue 17, progressive enhancement): with speech recognition the "Speak"
button fills the question with what was said, and nothing is sent until Send; without it the button
is not shown and typing works as before. The browser's recognition is replaced by a scripted one (a
real one needs a microphone and Google's servers)."""

import pytest

from accounts.tests.factories import PASSWORD, MembershipFactory
from assistant.models import AssistantMessage
from conftest import browser_login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SCRIPTED = """
window.SpeechRecognition = class {
  start() {
    window.__voiceLang = this.lang;
    setTimeout(() => {
      this.onresult({ resultIndex: 0, results: [Object.assign([{ transcript: "move Sarah to booked" }], { isFinal: true })] });
      this.onend();
    }, 50);
  }
  stop() { this.onend(); }
};
"""
ABSENT = "delete window.SpeechRecognition; delete window.webkitSpeechRecognition;"


@pytest.fixture
def setter():
    return MembershipFactory(workspace__slug="zen", user__email="setter@zen.test").user


def _open_panel(page):
    page.goto("/accounts/login/")
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto("/w/zen/inbox/")
    page.get_by_role("button", name="Ask Sidekick").click()
    page.get_by_label("Your question").wait_for()


def test_speaking_fills_the_question_and_sends_nothing(page, setter):
    page.add_init_script(SCRIPTED)
    _open_panel(page)
    page.get_by_label("Your question").fill("note on Sarah:")
    speak = page.get_by_role("button", name="Speak")
    speak.click()
    page.wait_for_function("document.getElementById('assistant-text').value.includes('booked')")
    assert page.get_by_label("Your question").input_value() == "note on Sarah: move Sarah to booked"
    assert page.evaluate("window.__voiceLang")  # the page's language is handed to the recognizer
    assert speak.get_attribute("aria-pressed") == "false"  # listening ended
    assert not AssistantMessage.objects.exists()  # only Send sends


def test_without_speech_recognition_there_is_no_speak_button(page, setter):
    page.add_init_script(ABSENT)
    _open_panel(page)
    assert page.locator("[data-voice-for]").is_hidden()
    page.get_by_label("Your question").fill("move Sarah to booked")
    assert page.get_by_label("Your question").input_value() == "move Sarah to booked"
