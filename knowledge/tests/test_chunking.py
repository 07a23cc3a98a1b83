import pytest

from knowledge.chunking import chunk_blocks
from knowledge.extraction import IngestionError, detect_kind, markdown_blocks, text_blocks


def sentences(n, prefix="Sentence"):
    return " ".join(f"{prefix} number {i} says something useful about the studio." for i in range(n))


def test_markdown_heading_paths():
    blocks = markdown_blocks("# A\n\nintro\n\n## B\n\nb text\n\n### C\n\nc text\n\n## D\n\nd text\n\nSetext\n------\n\ns")
    assert [(b.section, b.text) for b in blocks] == [
        ("A", "intro"), ("A › B", "b text"), ("A › B › C", "c text"), ("A › D", "d text"), ("A › Setext", "s")]


def test_text_headings_and_paragraphs():
    blocks = text_blocks("Prices\n\nOne class is 22 euros.\nPacks are cheaper.\n\nlast paragraph.")
    assert [(b.section, b.text) for b in blocks] == [
        ("Prices", "One class is 22 euros.\nPacks are cheaper."), ("Prices", "last paragraph.")]


def test_long_sections_are_split_with_overlap_and_stay_within_bounds():
    text = "# Guide\n\n" + "\n\n".join(sentences(6, f"P{p}") for p in range(8))
    chunks = chunk_blocks(markdown_blocks(text), title="t", target=600, overlap=150)
    assert len(chunks) > 3
    assert all(len(c.text) <= 600 + 150 for c in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        last_sentence = previous.text.replace("\n", " ").split(". ")[-1].strip()
        assert last_sentence.rstrip(".") in current.text  # overlap carried over
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_a_very_long_paragraph_is_cut_at_sentences_then_words():
    chunks = chunk_blocks(markdown_blocks("x" * 10 + " " + "word " * 1000), title="", target=300, overlap=0)
    assert all(len(c.text) <= 300 for c in chunks) and len(chunks) >= 15


def test_keys_are_stable_and_only_change_where_text_changes():
    text = "# A\n\n" + sentences(3) + "\n\n# B\n\n" + sentences(3, "Other")
    first = chunk_blocks(markdown_blocks(text), title="t", target=400, overlap=50)
    again = chunk_blocks(markdown_blocks(text), title="t", target=400, overlap=50)
    assert [c.key for c in first] == [c.key for c in again]
    changed = chunk_blocks(markdown_blocks(text.replace("Other number 2", "Other number two")), title="t",
                           target=400, overlap=50)
    unchanged_keys = {c.key for c in first if c.section == "A"}
    assert unchanged_keys <= {c.key for c in changed}
    assert {c.key for c in first if c.section == "B"} != {c.key for c in changed if c.section == "B"}


def test_repeated_identical_paragraphs_get_distinct_keys():
    chunks = chunk_blocks(markdown_blocks("# A\n\nSame.\n\n# B\n\nx\n\n# A\n\nSame."), title="", target=400,
                          overlap=0)
    assert len({c.key for c in chunks}) == len(chunks)


@pytest.mark.parametrize("name, head, kind", [
    ("a.PDF", b"%PDF-1.7", "pdf"), ("notes.md", b"# x", "markdown"), ("n.markdown", b"x", "markdown"),
    ("a.txt", b"hello", "text"),
])
def test_detect_kind(name, head, kind):
    assert detect_kind(filename=name, head=head) == kind


@pytest.mark.parametrize("name, head", [("a.docx", b"PK"), ("noext", b"x"), ("a.pdf", b"hello"),
                                        ("a.txt", b"%PDF-1.4")])
def test_detect_kind_rejects(name, head):
    with pytest.raises(IngestionError):
        detect_kind(filename=name, head=head)
