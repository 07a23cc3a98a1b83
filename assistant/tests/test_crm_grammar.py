"""AutoCRM's deterministic grammar: a table of commands → the parse (intent, target, operations).

Exact wording only: typos are out of scope for the deterministic path (the model path handles them)."""

import pytest

from assistant.crm_grammar import CONTEXT, HANDLE, NAME, UNDO, UNSUPPORTED, UPDATE, Target, crm_parse

SARAH = Target(NAME, "Sarah")
HER = Target(CONTEXT)

CASES = [
    # stage, English
    ("move Sarah to booked", UPDATE, SARAH, [("stage", "booked")]),
    ("Move Sarah Lee to qualified.", UPDATE, Target(NAME, "Sarah Lee"), [("stage", "qualified")]),
    ("set Sarah stage qualified", UPDATE, SARAH, [("stage", "qualified")]),
    ("set Sarah's stage to lost", UPDATE, SARAH, [("stage", "lost")]),
    ("change the stage of Sarah to customer", UPDATE, SARAH, [("stage", "customer")]),
    ("mark Sarah as ghosted", UPDATE, SARAH, [("stage", "ghosted")]),
    ("move her to booked", UPDATE, HER, [("stage", "booked")]),
    ("move this contact to engaged", UPDATE, HER, [("stage", "engaged")]),
    ("move @sarah.lee to booked", UPDATE, Target(HANDLE, "sarah.lee"), [("stage", "booked")]),
    ("please move him to new", UPDATE, HER, [("stage", "new")]),
    # stage, Spanish
    ("mover a Sarah a booked", UPDATE, SARAH, [("stage", "booked")]),
    ("mueve a Sarah a agendado", UPDATE, SARAH, [("stage", "booked")]),
    ("pasa a Sarah a cliente", UPDATE, SARAH, [("stage", "customer")]),
    ("muévela a calificado", UPDATE, HER, [("stage", "qualified")]),
    ("cambia la etapa de Sarah a perdido", UPDATE, SARAH, [("stage", "lost")]),
    # score
    ("set @handle score 80", UPDATE, Target(HANDLE, "handle"), [("lead_score", 80)]),
    ("score 80 for Sarah", UPDATE, SARAH, [("lead_score", 80)]),
    ("set Sarah's score to 45", UPDATE, SARAH, [("lead_score", 45)]),
    ("give Sarah a score of 70", UPDATE, SARAH, [("lead_score", 70)]),
    ("lead score 10 for her", UPDATE, HER, [("lead_score", 10)]),
    ("set Sarah score 150", UPDATE, SARAH, [("lead_score", 150)]),  # parsed; the change kind refuses it
    ("puntuación 80 para Sarah", UPDATE, SARAH, [("lead_score", 80)]),
    ("puntuacion de Sarah a 60", UPDATE, SARAH, [("lead_score", 60)]),
    ("pon la puntuación de @sarah en 90", UPDATE, Target(HANDLE, "sarah"), [("lead_score", 90)]),
    # sentiment
    ("Sarah's sentiment negative", UPDATE, SARAH, [("sentiment", "negative")]),
    ("set her sentiment to positive", UPDATE, HER, [("sentiment", "positive")]),
    ("sentimiento de Sarah negativo", UPDATE, SARAH, [("sentiment", "negative")]),
    ("cambia el sentimiento de este contacto a neutro", UPDATE, HER, [("sentiment", "neutral")]),
    # notes (lead memory facts)
    ("note on Sarah: prefers Tuesdays", UPDATE, SARAH, [("note", "prefers Tuesdays")]),
    ("add a note to her: has two kids", UPDATE, HER, [("note", "has two kids")]),
    ("nota sobre Sarah: prefiere las mañanas", UPDATE, SARAH, [("note", "prefiere las mañanas")]),
    # undo
    ("undo", UNDO, None, []),
    ("Undo that", UNDO, None, []),
    ("deshacer", UNDO, None, []),
    # unsupported CRM asks
    ("delete Sarah", UNSUPPORTED, None, []),
    ("borrar a Sarah", UNSUPPORTED, None, []),
    ("merge Sarah with @sarah2", UPDATE, SARAH, [("link", {"kind": "handle", "value": "sarah2"})]),
    ("pause automation for Sarah", UPDATE, SARAH, [("automation", "pause")]),
    ("set Sarah stage tuesday", UNSUPPORTED, SARAH, []),
    ("Sarah's sentiment grumpy", UNSUPPORTED, SARAH, []),
]

NOT_CRM = [
    "How should I answer Sarah about pricing?",
    "move the call to Tuesday",  # "Tuesday" is not a stage and no stage was named: a normal question
    "What is the score of our best lead?",
    "Write a follow-up for her",
    "",
    "set Sarah score eighty",
    "move to booked",
]


@pytest.mark.parametrize(("text", "intent", "target", "operations"), CASES, ids=[c[0] for c in CASES])
def test_the_grammar_parses_each_command(text, intent, target, operations):
    parsed = crm_parse(text)
    assert parsed is not None, text
    assert parsed.intent == intent
    assert parsed.target == target
    assert list(parsed.operations) == operations
    if intent == UNSUPPORTED:
        assert parsed.reason


@pytest.mark.parametrize("text", NOT_CRM)
def test_anything_else_is_left_to_the_normal_answer(text):
    assert crm_parse(text) is None


def test_there_are_at_least_thirty_commands_in_the_table():
    assert len(CASES) >= 30
