"""The live answer: pieces published by the worker on a Redis stream, relayed as server-sent events by the
stream endpoint (the blocking relay under WSGI, the async one under ASGI), answers lost with their
worker, and the token count of an answer the provider broke off. Real Postgres and Redis; the model is
the fake provider at the HTTP boundary."""

import asyncio
import itertools
import json
import random
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from assistant import answer as answer_module
from assistant import services, stream
from assistant.answer import answer_write
from assistant.models import AssistantMessage, MessageStatus
from assistant.tasks import assistant_answers_sweep
from integrations.llm.models import LLMUsage
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def _url(workspace, message_id):
    return reverse("assistant:stream", args=[workspace.slug, message_id])


def _ask(workspace, user, text="How should I answer her?"):
    return services.assistant_ask(workspace=workspace, user=user, role="setter", text=text)


def _events(body: bytes) -> list[tuple[str, str, str]]:
    """(id, event, data) of each SSE event in a body."""
    events = []
    for block in body.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields.get("id", ""), fields["event"], fields.get("data", "")))
    return events


def _text(events) -> str:
    """The answer a reader assembles: each piece at its offset (a repeated piece is not shown twice)."""
    text = ""
    for _, kind, data in events:
        if kind == "piece":
            piece = json.loads(data)
            assert piece["o"] <= len(text), "a gap: the reader would reload the row"
            text = text[:piece["o"]] + piece["d"] if piece["o"] + len(piece["d"]) > len(text) else text
    return text


def _run(coroutine_function):
    """asyncio.run in a thread of its own: a browser test earlier in the session (Playwright's sync API)
    leaves an event loop running in this one."""
    result = {}

    def run():
        try:
            result["value"] = asyncio.run(coroutine_function())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return result["value"]


def _in_background(message_id):
    def run():
        try:
            answer_write(message_id=message_id)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    return worker


def test_the_reader_gets_every_piece_in_order_then_the_end_once_the_row_is_final(client, fake_llm, team, monkeypatch):
    monkeypatch.setattr(answer_module, "FLUSH_SECONDS", 10.0)  # the row lags; the stream does not
    monkeypatch.setattr(stream, "PUBLISH_SECONDS", 0.0)  # each piece an entry of its own (coalescing: below)
    fake_llm.provider(team, kind="anthropic")
    chunks = ["Ask ", "her ", "which ", "day ", "suits – ", "Tuesday? ", "✓"]
    fake_llm.queue(Reply.stream(chunks, chunk_delay=0.05, delay=0.5))
    asked = _ask(team, team.setter_user)
    client.force_login(team.setter_user)
    assert client.get(_url(team, 0)).status_code == 404  # the URLconf and its imports loaded (seconds, cold)
    worker = _in_background(asked.answer.pk)
    response = client.get(_url(team, asked.answer.pk))  # connects while the answer is being written
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    body = b"".join(response.streaming_content)
    worker.join()
    events = _events(body)
    assert [kind for _, kind, _ in events] == ["piece"] * len(chunks) + ["end"]
    assert [json.loads(data)["d"] for _, kind, data in events if kind == "piece"] == chunks
    assert _text(events) == "".join(chunks) == AssistantMessage.objects.get(pk=asked.answer.pk).content
    assert events[-1][2] == MessageStatus.COMPLETE


def test_a_reconnect_resumes_after_the_last_event_it_saw(client, fake_llm, team, monkeypatch):
    monkeypatch.setattr(stream, "PUBLISH_SECONDS", 0.0)  # each piece an entry of its own: one to resume after
    fake_llm.provider(team, kind="openai")
    fake_llm.queue(Reply.stream(["one ", "two ", "three"]))
    asked = _ask(team, team.setter_user)
    answer_write(message_id=asked.answer.pk)
    # The row is final: a new reader is told at once and loads it.
    client.force_login(team.setter_user)
    assert [kind for _, kind, _ in _events(b"".join(client.get(_url(team, asked.answer.pk)).streaming_content))] == ["end"]
    # A reader that was connected, lost the connection after "one ", and comes back with Last-Event-ID.
    AssistantMessage.objects.filter(pk=asked.answer.pk).update(status=MessageStatus.STREAMING)
    first = _events(b"".join(stream.relay(message_id=asked.answer.pk, after="0")))
    resumed = client.get(_url(team, asked.answer.pk), headers={"Last-Event-ID": first[0][0]})
    rest = _events(b"".join(resumed.streaming_content))
    assert [json.loads(d)["d"] for _, kind, d in rest if kind == "piece"] == ["two ", "three"]
    assert rest[-1][1] == "end"


def test_the_async_relay_of_the_stream_server_sends_the_same_events(fake_llm, team):
    fake_llm.provider(team, kind="anthropic")
    fake_llm.queue(Reply.stream(["Hel", "lo ", "there"], chunk_delay=0.05))
    asked = _ask(team, team.setter_user)
    worker = _in_background(asked.answer.pk)

    async def read():
        return b"".join([part async for part in stream.relay_async(message_id=asked.answer.pk, after="0")])

    body = _run(read)
    worker.join()
    events = _events(body)
    assert _text(events) == "Hello there" and events[-1][1:] == ("end", MessageStatus.COMPLETE)


def test_the_stream_server_relays_through_the_async_path_and_serves_nothing_else(fake_llm, team):
    from django.test import AsyncClient

    from sidekick_project.asgi_stream import application

    fake_llm.provider(team, kind="openai")
    fake_llm.queue(Reply.stream(["one ", "two"]))
    asked = _ask(team, team.setter_user)
    answer_write(message_id=asked.answer.pk)
    AssistantMessage.objects.filter(pk=asked.answer.pk).update(status=MessageStatus.STREAMING)  # a reader mid-answer

    async def read_as_the_page_would():
        client = AsyncClient()
        await client.aforce_login(team.setter_user)
        response = await client.get(_url(team, asked.answer.pk), headers={"Origin": "http://testserver:8000"})
        return response, b"".join([part async for part in response.streaming_content])

    response, body = _run(read_as_the_page_would)
    # The ASGI handler ran the view in a thread of its own whose connection the test client never closes
    # (it disconnects close_old_connections); the stream server runs with CONN_MAX_AGE=0 for this reason.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND state = 'idle'")
    assert _text(_events(body)) == "one two" and _events(body)[-1][1] == "end"
    # The page's host on another port may read it, with its cookie; another site may not.
    assert response["Access-Control-Allow-Origin"] == "http://testserver:8000"
    assert response["Access-Control-Allow-Credentials"] == "true"

    async def call(path):
        sent = []

        async def send(message):
            sent.append(message)

        await application({"type": "http", "path": path, "method": "GET", "headers": []}, None, send)
        return sent[0]["status"]

    assert _run(lambda: call(reverse("assistant:conversations", args=[team.slug]))) == 404
    assert _run(lambda: call("/admin/")) == 404


def test_another_site_gets_no_cross_origin_permission(client, fake_llm, team):
    fake_llm.provider(team)
    asked = _ask(team, team.setter_user)
    services.assistant_stop(answer=asked.answer)  # finished: the response ends at once
    client.force_login(team.setter_user)
    response = client.get(_url(team, asked.answer.pk), headers={"Origin": "https://evil.example"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response


def test_only_the_owner_reads_an_answers_stream(client, fake_llm, team):
    fake_llm.provider(team)
    asked = _ask(team, team.setter_user)
    for user in (team.other_setter, team.admin_user):  # not even an admin of the same workspace
        client.force_login(user)
        assert client.get(_url(team, asked.answer.pk)).status_code == 404
    client.force_login(team.stranger)  # another workspace: not a member here, and not via their own
    assert client.get(_url(team, asked.answer.pk)).status_code == 404
    client.logout()
    assert client.get(_url(team, asked.answer.pk)).status_code == 302  # to the login page


def test_a_retry_starts_the_live_stream_again(fake_llm, team):
    fake_llm.provider(team, kind="openai")
    fake_llm.queue(Reply.stream(["Old ", "text"], break_after=1), Reply.stream(["New ", "answer"]))
    asked = _ask(team, team.setter_user)
    assert answer_write(message_id=asked.answer.pk) == MessageStatus.FAILED
    services.assistant_retry(answer=asked.answer)
    assert answer_write(message_id=asked.answer.pk) == MessageStatus.COMPLETE
    events = _events(b"".join(stream.relay(message_id=asked.answer.pk, after="0")))
    assert _text(events) == "New answer" and [kind for _, kind, _ in events].count("end") == 1


def test_with_redis_unreachable_the_answer_is_still_written_to_its_row(fake_llm, team, monkeypatch, tmp_path):
    dead = redis.Redis(unix_socket_path=str(tmp_path / "nobody.sock"), socket_connect_timeout=0.2)
    monkeypatch.setattr(stream, "_client", lambda: dead)
    fake_llm.provider(team, kind="anthropic")
    fake_llm.queue(Reply.stream(["Still ", "here."]))
    asked = _ask(team, team.setter_user)
    assert answer_write(message_id=asked.answer.pk) == MessageStatus.COMPLETE
    assert AssistantMessage.objects.get(pk=asked.answer.pk).content == "Still here."
    # And its reader is told to fall back to the row (the browser then polls it).
    AssistantMessage.objects.filter(pk=asked.answer.pk).update(status=MessageStatus.STREAMING)
    assert [kind for _, kind, _ in _events(b"".join(stream.relay(message_id=asked.answer.pk, after="0")))] == ["lost"]


def test_an_answer_lost_with_its_worker_is_marked_failed_and_says_so(client, fake_llm, team):
    """It used to stay "Thinking…" forever: nothing ever finished it."""
    fake_llm.provider(team)
    lost = _ask(team, team.setter_user, "Lost one?")
    AssistantMessage.objects.filter(pk=lost.answer.pk).update(
        content="Half an ans", updated_at=timezone.now() - timedelta(seconds=services.ANSWER_STALE_SECONDS + 5))
    fresh = _ask(team, team.setter_user, "Still being written?")
    assert assistant_answers_sweep() == 1
    row = AssistantMessage.objects.get(pk=lost.answer.pk)
    assert row.status == MessageStatus.FAILED and row.content == "Half an ans" and "interrupted" in row.error
    assert AssistantMessage.objects.get(pk=fresh.answer.pk).status == MessageStatus.STREAMING
    # Its live readers are told it ended.
    assert _events(b"".join(stream.relay(message_id=lost.answer.pk, after="0")))[-1][1:] == ("end", "failed")
    # The page says so.
    client.force_login(team.setter_user)
    page = client.get(reverse("assistant:message", args=[team.slug, lost.answer.pk])).content.decode()
    assert "interrupted" in page and "Thinking" not in page and "Retry" in page


def test_reading_a_lost_answer_marks_it_failed_without_waiting_for_the_sweep(client, fake_llm, team):
    fake_llm.provider(team)
    lost = _ask(team, team.setter_user)
    AssistantMessage.objects.filter(pk=lost.answer.pk).update(
        updated_at=timezone.now() - timedelta(seconds=services.ANSWER_STALE_SECONDS + 5))
    client.force_login(team.setter_user)
    page = client.get(reverse("assistant:message", args=[team.slug, lost.answer.pk])).content.decode()
    assert "interrupted" in page and "Thinking" not in page
    assert AssistantMessage.objects.get(pk=lost.answer.pk).status == MessageStatus.FAILED


def test_a_provider_error_midway_keeps_the_text_and_counts_its_tokens_flagged_as_estimated(fake_llm, team):
    """It used to record 0 tokens for the answer: what arrived is billed, so it counts."""
    fake_llm.provider(team, kind="anthropic")
    fake_llm.queue(Reply.stream(["Tell her ", "the price ", "never arrives"], error_after=2, input_tokens=250))
    asked = _ask(team, team.setter_user)
    assert answer_write(message_id=asked.answer.pk) == MessageStatus.FAILED
    row = AssistantMessage.objects.get(pk=asked.answer.pk)
    assert row.content == "Tell her the price " and "broke off" in row.error
    assert row.input_tokens == 250 and row.output_tokens > 0 and row.metadata["tokens_estimated"] is True
    usage = LLMUsage.objects.get(workspace=team, purpose="assistant")
    assert (usage.input_tokens, usage.output_tokens) == (row.input_tokens, row.output_tokens)
    assert "estimated" in usage.error_message


# --- coalescing in the worker -------------------------------------------------------------------------

_ids = itertools.count(random.randrange(10**9, 2 * 10**9))


def _entries(message_id):
    """The answer's stream as (offset, text) pieces and ("end", status)."""
    return [("end", fields[b"end"].decode()) if b"end" in fields else (int(fields[b"o"]), fields[b"d"].decode())
            for _, fields in stream._client().xrange(stream.key(message_id))]


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("condition not met in time")


def test_the_first_piece_is_added_at_once_and_the_next_ones_wait_together(monkeypatch):
    monkeypatch.setattr(stream, "PUBLISH_SECONDS", 0.3)
    message_id = next(_ids)
    publisher = stream.AnswerPublisher(message_id)
    publisher.piece("Ask ")
    assert _entries(message_id) == [(0, "Ask ")]  # no wait for the first piece
    assert stream._client().ttl(stream.key(message_id)) > 0  # the stream expires
    publisher.piece("her ")
    publisher.piece("which ")
    assert _entries(message_id) == [(0, "Ask ")]  # held back, not lost
    _wait_for(lambda: len(_entries(message_id)) == 2)
    assert _entries(message_id) == [(0, "Ask "), (4, "her which ")]  # one entry, at the offset of the first
    time.sleep(0.35)
    publisher.piece("day – ")  # after a pause as long as the interval: at once again
    assert _entries(message_id)[-1] == (14, "day – ")
    publisher.piece("✓")  # waiting when the answer ends: goes before the end
    publisher.end(MessageStatus.COMPLETE)
    assert _entries(message_id)[-2:] == [(20, "✓"), ("end", "complete")]
    time.sleep(0.35)  # and the flusher adds nothing after the end
    assert _entries(message_id)[-1] == ("end", "complete") and len(_entries(message_id)) == 5


def test_concurrent_answers_each_arrive_exact_and_in_order(monkeypatch):
    """Many answers' threads and the flusher add at once: no piece lost, repeated or out of place."""
    monkeypatch.setattr(stream, "PUBLISH_SECONDS", 0.01)
    message_ids = [next(_ids) for _ in range(8)]
    texts = {}

    def write(message_id):
        rng = random.Random(message_id)
        pieces = [f"{message_id % 1000}-{n}{'é' * rng.randrange(3)} " for n in range(150)]
        texts[message_id] = "".join(pieces)
        publisher = stream.AnswerPublisher(message_id)
        for piece in pieces:
            publisher.piece(piece)
            time.sleep(rng.choice([0, 0, 0.001, 0.004, 0.012]))
        publisher.end(MessageStatus.COMPLETE)

    threads = [threading.Thread(target=write, args=(message_id,)) for message_id in message_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for message_id in message_ids:
        entries = _entries(message_id)
        assert entries[-1] == ("end", "complete") and all(offset != "end" for offset, _ in entries[:-1])
        text = ""
        for offset, piece in entries[:-1]:
            assert offset == len(text)  # contiguous: a reader never sees a gap or an overlap
            text += piece
        assert text == texts[message_id]
        assert 1 < len(entries) - 1 < 150  # coalesced, yet not all at the end


def test_redis_lost_while_pieces_wait_stops_publishing_quietly(monkeypatch, tmp_path):
    monkeypatch.setattr(stream, "PUBLISH_SECONDS", 0.05)
    message_id = next(_ids)
    publisher = stream.AnswerPublisher(message_id)
    publisher.piece("Still ")
    dead = redis.Redis(unix_socket_path=str(tmp_path / "nobody.sock"), socket_connect_timeout=0.2)
    monkeypatch.setattr(stream, "_client", lambda: dead)
    publisher.piece("here")  # waits for the flusher, whose add then fails
    _wait_for(lambda: not publisher.working)
    publisher.piece(".")
    publisher.end(MessageStatus.COMPLETE)  # no error, no wait: the reader reloads the row
    monkeypatch.undo()
    assert _entries(message_id) == [(0, "Still ")]


def test_coalesced_answer_reads_as_the_whole_text_with_its_first_piece_alone(fake_llm, team):
    fake_llm.provider(team, kind="anthropic")
    chunks = [f"w{n}{'–' if n % 7 == 0 else ''} " for n in range(40)]
    fake_llm.queue(Reply.stream(chunks, chunk_delay=0.01))
    asked = _ask(team, team.setter_user)
    assert answer_write(message_id=asked.answer.pk) == MessageStatus.COMPLETE
    events = _events(b"".join(stream.relay(message_id=asked.answer.pk, after="0")))
    pieces = [json.loads(data) for _, kind, data in events if kind == "piece"]
    assert pieces[0] == {"o": 0, "d": chunks[0]}  # the first piece as it came, not held for the next
    assert 1 < len(pieces) < len(chunks)  # 40 pieces 10 ms apart: coalesced
    assert _text(events) == "".join(chunks) == AssistantMessage.objects.get(pk=asked.answer.pk).content
    assert events[-1][1:] == ("end", MessageStatus.COMPLETE)


def test_stop_with_the_default_row_interval_still_stops_and_the_reader_saw_what_is_kept(fake_llm, team):
    fake_llm.provider(team, kind="anthropic")
    chunks = [f"word{n} " for n in range(60)]
    fake_llm.queue(Reply.stream(chunks, chunk_delay=0.05))  # 3 s in all
    asked = _ask(team, team.setter_user)
    worker = _in_background(asked.answer.pk)
    _wait_for(lambda: AssistantMessage.objects.get(pk=asked.answer.pk).content)  # the first piece is in the row
    services.assistant_stop(answer=asked.answer)
    stopped_at = time.monotonic()
    worker.join(timeout=10)
    assert time.monotonic() - stopped_at < answer_module.FLUSH_SECONDS + 1.0  # seen at the next row write
    row = AssistantMessage.objects.get(pk=asked.answer.pk)
    assert row.status == MessageStatus.STOPPED and row.content and "".join(chunks).startswith(row.content)
    assert row.content != "".join(chunks)
    events = _events(b"".join(stream.relay(message_id=asked.answer.pk, after="0")))
    assert _text(events) == row.content and events[-1][1:] == ("end", MessageStatus.STOPPED)
