"""Django's {# #} comments end on their line: one left open runs into the page as text (it happened
twice). Multi-line comments use {% comment %}."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_template_comment_spans_lines():
    templates = [p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts and "var" not in p.parts]
    assert templates, "no templates found: the glob is wrong"
    open_comments = [f"{path.relative_to(ROOT)}:{number}"
                     for path in templates
                     for number, line in enumerate(path.read_text().splitlines(), start=1)
                     if line.count("{#") > line.count("#}")]
    assert open_comments == []
