import pytest

from conversations.pipeline.finalize import plain_text


@pytest.mark.parametrize(("raw", "expected"), [
    ("**Great news!** Our *10-class* pack is $150.", "Great news! Our 10-class pack is $150."),
    ("## Prices\n- Drop-in: $20\n- Pack: $150", "Prices\n- Drop-in: $20\n- Pack: $150"),
    ("* Drop-in\n* Pack", "• Drop-in\n• Pack"),
    ("Book here: [our calendar](https://cal.example.com/zen)", "Book here: our calendar (https://cal.example.com/zen)"),
    ("Assistant: Sure, see you Friday!", "Sure, see you Friday!"),
    ("<p>Hi &amp; welcome</p>", "Hi & welcome"),
    ("```\nHello there\n```", "Hello there"),
    ('"Quoted reply"', "Quoted reply"),
    ("Line one   \n\n\n\nLine two", "Line one\n\nLine two"),
    ("2*3*4 = 24 and snake_case_name stay", "2*3*4 = 24 and snake_case_name stay"),
    ("Price: 5 < 10 > 2", "Price: 5 < 10 > 2"),
    ("Hola 👋 ¿qué tal? 🙂", "Hola 👋 ¿qué tal? 🙂"),
])
def test_plain_text(raw, expected):
    assert plain_text(raw) == expected
