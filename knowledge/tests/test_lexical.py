"""The lexical side's bounded candidate set: exact when few chunks match, best tiers first otherwise."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import selectors
from knowledge.models import Chunk, Document
from knowledge.selectors import knowledge_search
from knowledge.services import chunks_fts_refresh

pytestmark = pytest.mark.django_db


def _chunks(workspace, texts):
    document = Document.objects.create(workspace=workspace, filename="bulk.txt", title="Bulk", status="ready")
    Chunk.objects.bulk_create([Chunk(workspace=workspace, document=document, key=f"k{i}", position=i, text=text)
                               for i, text in enumerate(texts)])
    chunks_fts_refresh(workspace_id=workspace.pk)
    return document


def _plain_or_ranking(workspace, query, limit):
    """The ranking before candidates were capped: ts_rank over every chunk matching any word."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM knowledge_chunk c, (SELECT replace(plainto_tsquery('english', %s)::text, ' & ', ' | ')"
            "::tsquery AS q) q WHERE c.workspace_id = %s AND c.search_vector @@ q.q "
            "ORDER BY ts_rank(c.search_vector, q.q, 1) DESC, c.id LIMIT %s", [query, workspace.pk, limit])
        return [row[0] for row in cursor.fetchall()]


def test_few_matches_rank_exactly_like_the_plain_or_query(workspace):
    words = "yoga pilates towel shower parking gift card refund membership freeze".split()
    texts = [" ".join(words[(i * 7 + j) % len(words)] for j in range(1 + i % 5)) + f" filler{i}" for i in range(60)]
    _chunks(workspace, texts)
    for query in ("yoga towel", "gift card refund for my membership", "parking", "shower towel yoga pilates freeze"):
        got = [r.chunk_id for r in knowledge_search(workspace=workspace, query=query, limit=10, mode="lexical")]
        assert got == _plain_or_ranking(workspace, query, 10), query


def test_many_matches_keep_the_chunks_matching_most_terms(workspace, settings):
    settings.KNOWLEDGE_LEXICAL_CANDIDATES = 40
    # 300 chunks mention "yoga" only; the answers, inserted last, mention every word of the question.
    texts = [f"yoga session number {i} in the morning" for i in range(300)]
    texts += ["yoga mat rental costs three euros", "rent a yoga mat for three euros at the desk"]
    _chunks(workspace, texts)
    results = knowledge_search(workspace=workspace, query="yoga mat rental euros", limit=5, mode="lexical")
    assert {r.text for r in results[:2]} == {texts[-1], texts[-2]}
    assert len(knowledge_search(workspace=workspace, query="yoga", limit=8, mode="lexical")) == 8


def test_candidate_cap_bounds_the_rows_ranked(workspace, settings):
    settings.KNOWLEDGE_LEXICAL_CANDIDATES = 40
    _chunks(workspace, [f"parking spot {i}" for i in range(200)])
    with CaptureQueriesContext(connection) as queries:
        rows = selectors._lexical_candidates(workspace_id=workspace.pk, language="english", query="parking spot",
                                             limit=40)
    assert len(rows) == 40
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + queries.captured_queries[-1]["sql"])
        plan = cursor.fetchone()[0][0]["Plan"]
    ranked = _find(plan, lambda node: node["Node Type"] == "Limit" and node.get("Parent Relationship") == "Subquery")
    assert ranked["Actual Rows"] == 40  # 200 chunks match; only the first 40 candidates were ranked


def _find(node, predicate):
    if predicate(node):
        return node
    for child in node.get("Plans", []):
        found = _find(child, predicate)
        if found:
            return found
    return None


@pytest.mark.parametrize("query", ["o'neil's back\\slash", "a & b | !c (d) <-> e:*", "'''", "\\", "café naïve 日本"])
def test_operator_characters_in_questions_are_just_words(workspace, query):
    _chunks(workspace, ["O'Neil's café is naïve about a backslash", "nothing here"])
    knowledge_search(workspace=workspace, query=query, mode="lexical")  # never a syntax error


def test_lexemes_keep_question_order_and_rarest_terms_lead_the_tiers(workspace, monkeypatch):
    assert selectors._query_lexemes(language="english", query="Refunds for the yoga classes?") == [
        "refund", "yoga", "class"]
    monkeypatch.setitem(selectors._lexeme_stats, "freq", {"class": 0.5, "yoga": 0.2})
    monkeypatch.setitem(selectors._lexeme_stats, "at", 10**12)
    seen = []
    real = selectors._tsquery_at_least
    monkeypatch.setattr(selectors, "_tsquery_at_least", lambda terms, m: seen.append(list(terms)) or real(terms, m))
    monkeypatch.setattr(selectors, "LEXICAL_TIER_TERMS", 2)
    _chunks(workspace, ["refund policy for yoga classes"])
    assert knowledge_search(workspace=workspace, query="Refunds for the yoga classes?", mode="lexical")
    assert seen == [["refund", "yoga"]]  # unknown to the statistics = rare; "class" is the most common
