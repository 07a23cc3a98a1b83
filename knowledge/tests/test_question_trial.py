"""#18: "Test a question" shows the reply Sidekick would send, drafted by the real pipeline on a worker,
with its decision, sources and confidence; nothing is written, and only the person who asked can read it.

The model is the scripted fake LLM server (the real SDK clients talk to it over HTTP); Postgres, Redis
(cache and broker) and the drafting pipeline are real.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from conversations.tasks import question_trial_run
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from integrations.llm.models import LLMUsage
from knowledge import question_trials
from knowledge.services import faq_create
from sidekick_project.celery import app as celery_app
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

LEDGER = "integrations_llmusage"  # the gateway's usage ledger: every model call is counted for quotas
QUESTION = "is there parking near the studio?"


def url(name, workspace, *args):
    return reverse(f"knowledge:{name}", args=[workspace.slug, *args])


def table_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - table names from the catalogue
            counts[table] = cursor.fetchone()[0]
    return counts


def poll_url(html: str) -> str:
    return re.search(r'hx-get="([^"]+/test/answer/[^"]+/)"', html).group(1)


@pytest.fixture
def parking(workspace):
    return faq_create(workspace=workspace, question="Is there parking?", answer="Yes, free parking behind the studio.",
                      actor=None)


@pytest.fixture
def dead_broker(tmp_path):
    """Redis unreachable for publishing (as integrations/tests/test_outage.py does it); the cache still works."""
    def reset():
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis+socket://{tmp_path}/nobody-listens.sock"
    reset()
    yield
    celery_app.conf.broker_url = original
    reset()


def ask(client, workspace, question=QUESTION):
    """What the page does: the results start the model's answer, the fragment is polled until done."""
    started = client.post(url("test_answer", workspace), {"q": question})
    assert started.status_code == 200, started.content
    return client.get(poll_url(started.content.decode()))


def test_the_page_shows_the_reply_sidekick_would_send_and_writes_nothing(client, workspace, setter, parking,
                                                                         fake_llm, eager_celery):
    fake_llm.provider(workspace)
    chunk = parking.chunks.get()
    fake_llm.queue(Reply.structured(draft_reply("Yes! Free parking right behind the studio.",
                                                cited_source_ids=[f"K{chunk.pk}"],
                                                memory_writes=[{"kind": "fact", "text": "Drives"}])),
                   Reply.structured(review()), Reply.structured(screen()))
    client.force_login(setter)
    page = client.get(url("test", workspace), {"q": QUESTION}).content.decode()
    assert f'hx-post="{url("test_answer", workspace)}"' in page and 'hx-trigger="load"' in page
    assert 'data-banner="no-provider"' not in page
    before = table_counts()
    html = ask(client, workspace).content.decode()
    after = table_counts()

    assert "Yes! Free parking right behind the studio." in html
    assert "It would send this on its own." in html and "Sent automatically" in html
    # The source it cited, titled and linked, with a snippet; the confidence as labelled bars.
    assert url("faq_detail", workspace, parking.pk) in html and "cited" in html and "behind the studio" in html
    assert "Backed by your knowledge or the conversation" in html and 'role="meter"' in html
    # Raw scores only behind the toggle.
    details = html.index("<details")
    assert "evidence kind" in html[details:] and "evidence kind" not in html[:details]
    assert "hx-trigger" not in html  # done: the fragment stops polling
    # The pipeline's model calls were real (draft, review, screen), each counted as the setter's; nothing else.
    changed = {table: (before[table], after[table]) for table in before if before[table] != after[table]}
    assert changed == {LEDGER: (before[LEDGER], before[LEDGER] + 3)}, changed
    assert set(LLMUsage.objects.values_list("user_id", flat=True)) == {setter.pk}
    # The question went in as the contact's message, the FAQ entry as a retrieved source.
    assert QUESTION in fake_llm.requests[0].last_user_text and "behind the studio" in fake_llm.requests[0].system


def test_a_low_confidence_reply_is_handed_to_a_person_with_the_reason(client, workspace, setter, fake_llm,
                                                                      eager_celery):
    fake_llm.provider(workspace)
    fake_llm.queue(Reply.structured(draft_reply("Let me check with the team.", confidence=0.3)),
                   Reply.structured(review()))
    client.force_login(setter)
    html = ask(client, workspace, "do you sell gift cards?").content.decode()
    assert "Let me check with the team." in html
    assert "It would save this as a draft for a person to check." in html and "Saved for a setter: Low confidence" in html
    assert "No retrieved source backs the reply" in html and "It would send this on its own." not in html


def test_a_rule_decision_needs_no_model_and_is_explained(client, workspace, setter, fake_llm, eager_celery):
    fake_llm.provider(workspace)
    client.force_login(setter)
    html = ask(client, workspace, "I want to talk to a human please").content.decode()
    assert "It would hand this to a person." in html and "Escalated to a human: Human requested" in html
    assert fake_llm.requests == []


def test_only_the_person_who_asked_can_read_the_result(client, workspace, setter, fake_llm, eager_celery):
    fake_llm.provider(workspace)
    fake_llm.queue(Reply.structured(draft_reply("Private draft.", confidence=0.3)), Reply.structured(review()))
    client.force_login(setter)
    started = client.post(url("test_answer", workspace), {"q": "hello?"}).content.decode()
    mine = poll_url(started)
    assert "Private draft." in client.get(mine).content.decode()
    trial_id = mine.rstrip("/").rsplit("/", 1)[1]

    colleague = MembershipFactory(workspace=workspace).user
    client.force_login(colleague)
    assert client.get(mine).status_code == 404
    stranger = AdminMembershipFactory().user  # admin of another workspace, asking with their own slug
    client.force_login(stranger)
    other_workspace = stranger.memberships.get().workspace
    assert client.get(url("test_answer_result", other_workspace, trial_id)).status_code == 404
    assert client.get(mine).status_code == 404
    client.force_login(setter)
    assert client.get(url("test_answer_result", workspace, "no-such-trial")).status_code == 404


def test_a_provider_error_says_so_and_the_passages_still_show(client, workspace, setter, parking, fake_llm,
                                                              eager_celery):
    fake_llm.provider(workspace)
    fake_llm.handler = lambda request: Reply.server_error(500)
    client.force_login(setter)
    page = client.get(url("test", workspace), {"q": QUESTION}).content.decode()
    assert "free parking behind the studio" in page.lower()
    html = ask(client, workspace).content.decode()
    assert "The language model could not answer" in html and "hand this message to a person" in html
    assert "<blockquote" not in html and "It would send this on its own." not in html
    details = html.index("<details")
    assert "llm_error" in html[details:] and "llm_error" not in html[:details]


def test_broker_down_says_the_model_cannot_run_and_the_passages_still_show(client, workspace, setter, parking,
                                                                           fake_llm, dead_broker):
    fake_llm.provider(workspace)
    client.force_login(setter)
    page = client.get(url("test", workspace), {"q": QUESTION})
    assert page.status_code == 200 and "free parking behind the studio" in page.content.decode().lower()
    started = client.post(url("test_answer", workspace), {"q": QUESTION})
    assert started.status_code == 503
    assert "can't run the model right now" in started.content.decode() and "hx-get" not in started.content.decode()
    assert fake_llm.requests == []


def test_cache_down_says_the_model_cannot_run(client, workspace, setter, fake_llm, settings, tmp_path):
    fake_llm.provider(workspace)
    client.force_login(setter)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"unix://{tmp_path}/nobody-listens.sock"}}
    started = client.post(url("test_answer", workspace), {"q": QUESTION})
    assert started.status_code == 503 and "can't run the model right now" in started.content.decode()
    assert fake_llm.requests == []


def test_with_a_provider_a_matching_faq_entry_is_a_source_not_the_answer(client, workspace, setter, parking,
                                                                       fake_llm):
    """With a model, Sidekick drafts from the FAQ entry instead of sending it as written (the FAQ-only
    mode is for workspaces without a provider), so the page does not call it Sidekick's answer."""
    fake_llm.provider(workspace)
    client.force_login(setter)
    page = client.get(url("test", workspace), {"q": "Is there parking?"}).content.decode()
    assert "Matching FAQ entry" in page and "Sidekick's answer" not in page and "behind the studio" in page


def test_no_provider_shows_the_banner_and_the_faq_answer(client, workspace, setter, parking):
    client.force_login(setter)
    page = client.get(url("test", workspace), {"q": "Is there parking?"}).content.decode()
    assert 'data-banner="no-provider"' in page and "Sidekick's answer" in page and "behind the studio" in page
    assert "hx-post" not in page.split('id="results"', 1)[1]
    started = client.post(url("test_answer", workspace), {"q": "Is there parking?"})
    assert started.status_code == 200 and 'data-banner="no-provider"' in started.content.decode()


def test_the_job_runs_on_the_llm_queue_and_a_lost_one_is_said_so(client, workspace, setter, fake_llm):
    """Not eager: the job is published to the real broker's `llm` queue. While no worker takes it the
    fragment keeps polling, then says the model did not answer in time; a worker that finally runs it
    answers once, and a second delivery does nothing."""
    from conftest import queued_tasks

    fake_llm.provider(workspace)
    fake_llm.queue(Reply.structured(draft_reply("Late but here.", confidence=0.3)), Reply.structured(review()))
    client.force_login(setter)
    started = client.post(url("test_answer", workspace), {"q": "hello?"}).content.decode()
    poll = poll_url(started)
    trial_id = poll.rstrip("/").rsplit("/", 1)[1]
    assert ("conversations.tasks.question_trial_run", repr((trial_id,))) in queued_tasks("llm")
    assert 'hx-trigger="every 1s"' in client.get(poll).content.decode()

    key = f"knowledge:question-trial:{trial_id}"
    cache.set(key, {**cache.get(key), "started_at": 0})
    assert "did not answer in time" in client.get(poll).content.decode()

    question_trial_run(trial_id)
    question_trial_run(trial_id)  # a duplicate delivery
    assert "Late but here." in client.get(poll).content.decode() and len(fake_llm.requests) == 2
    assert question_trials.question_trial_claim(trial_id=trial_id) is None  # answered: nothing to claim


def test_an_empty_question_is_refused(client, workspace, setter, fake_llm):
    fake_llm.provider(workspace)
    client.force_login(setter)
    assert client.post(url("test_answer", workspace), {"q": ""}).status_code == 400


def test_anonymous_and_get_are_refused(client, workspace, setter):
    assert client.post(url("test_answer", workspace), {"q": "x"}).status_code == 302
    client.force_login(setter)
    assert client.get(url("test_answer", workspace)).status_code == 405


def test_a_trial_is_claimed_once(workspace, setter):
    """Two deliveries of the same job at once: one runs, the other finds the trial claimed."""
    trial_id = question_trials.question_trial_start(workspace=workspace, user=setter, question="hello?")
    first = question_trials.question_trial_claim(trial_id=trial_id)
    assert first is not None and first["question"] == "hello?"
    assert question_trials.question_trial_claim(trial_id=trial_id) is None
