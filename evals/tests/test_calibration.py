"""Human calibration (labels, Cohen's κ), the Evals page by role, the weekly opt-in and its fan-out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from conftest import queued_tasks
from conversations.models import Message
from conversations.tests.factories import InboundMessageFactory
from evals import tasks
from evals.calibration import GOOD_AT, calibration_agreement, calibration_sample
from evals.erasure import eval_cases_erase
from evals.models import CalibrationLabel, EvalCase, EvalRun, EvalsSettings, PairwiseRun
from evals.services import eval_run
from evals.stats import kappa
from evals.weekly import weekly_eval_run, weekly_evals_enqueue
from insights import services as insights
from insights.tests.scenario import DAY, T0, Scene

pytestmark = pytest.mark.django_db(transaction=True)

CASES = 12


def grade(overall: int) -> dict:
    return {"relevance": overall, "clarity": overall, "next_step": overall, "tone": overall, "safety": 5,
            "overall": overall, "reason": f"scripted {overall}"}


@pytest.fixture
def scored(llm_workspace, fake_llm):
    """A finished run over CASES messages: half booked (the judge gives them 5), half not (1)."""
    workspace = llm_workspace
    fake_llm.provider(workspace, kind="openai")
    scene = Scene(workspace)
    for i in range(CASES):
        contact = scene.contact()
        contact.display_name = f"Zelda{i} Reyes"
        contact.save(update_fields=["display_name"])
        thread = scene.thread(contact)
        InboundMessageFactory(thread=thread, sent_at=T0 + DAY - DAY / 4, text=f"Hi, I'm Zelda{i}, any slot Friday?")
        sent = scene.out(contact, T0 + DAY)
        Message.objects.filter(pk=sent.pk).update(text=("BOOKME " if i % 2 == 0 else "") + f"Sure Zelda{i}!")
        if i % 2 == 0:
            scene.booking(contact, T0 + 2 * DAY)
    insights.report_run(workspace=workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 30 * DAY)
    fake_llm.handler = lambda request: grade(5 if "BOOKME" in request.last_user_text else 1)
    return eval_run(workspace=workspace, budget_tokens=1_000_000)


def test_kappa_on_known_tables():
    assert kappa(judge=[True, True, False, False], human=[True, False, False, False]) == {
        "value": 0.5, "n": 4, "agreement": 0.75}
    assert kappa(judge=[True, False], human=[True, False])["value"] == 1.0
    assert kappa(judge=[True, False], human=[False, True])["value"] == -1.0
    assert kappa(judge=[True, True], human=[True, True])["value"] is None  # one label only: undefined
    assert kappa(judge=[], human=[]) == {"value": None, "n": 0, "agreement": None}


def test_labels_give_kappa_and_carry_over_to_the_next_run(scored, fake_llm, client):
    workspace = scored.workspace
    client.force_login(workspace.admin_user)
    url = reverse("evals:calibrate", args=[workspace.slug])
    page = client.get(url)
    assert page.status_code == 200
    first = calibration_sample(run=scored)[0]
    body = page.content.decode()
    assert first.sent_text in body and "Zelda" not in body  # the redacted text, as setters see it
    # Label every case as the judge would, except one: 11 agree, 1 does not.
    sample = calibration_sample(run=scored)
    for i, case in enumerate(sample):
        good = case.overall >= GOOD_AT
        label = "good" if good != (i == 0) else "bad"
        response = client.post(reverse("evals:calibrate_label", args=[workspace.slug]),
                               {"case": case.pk, "label": label, "i": i}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
    assert response.content.decode().count('id="calibrate-case"') == 1  # a fragment, not the page
    agreement = calibration_agreement(workspace=workspace, run=scored)
    assert agreement["kappa"]["n"] == CASES and agreement["kappa"]["agreement"] == round(11 / 12, 4)
    assert 0.5 < agreement["kappa"]["value"] < 1
    # Relabelling replaces the label: the first case now agrees too.
    client.post(reverse("evals:calibrate_label", args=[workspace.slug]),
                {"case": sample[0].pk, "label": "good" if sample[0].overall >= GOOD_AT else "bad", "i": 0})
    assert CalibrationLabel.objects.filter(workspace=workspace).count() == CASES
    assert calibration_agreement(workspace=workspace, run=scored)["kappa"]["value"] == 1.0
    # A new run over the same messages: the labels (by message) count again.
    second = eval_run(workspace=workspace, budget_tokens=1_000_000)
    assert calibration_agreement(workspace=workspace, run=second)["kappa"] == {"value": 1.0, "n": CASES,
                                                                               "agreement": 1.0}
    assert "1.00" in client.get(url).content.decode()


def test_no_case_of_another_workspace_can_be_labelled(scored, client, other_workspace):
    from accounts.tests.factories import AdminMembershipFactory

    stranger = AdminMembershipFactory(workspace=other_workspace).user
    client.force_login(stranger)
    case = EvalCase.objects.filter(run=scored).first()
    response = client.post(reverse("evals:calibrate_label", args=[other_workspace.slug]),
                           {"case": case.pk, "label": "good"})
    assert response.status_code == 404 and not CalibrationLabel.objects.exists()


def test_the_evals_page_shows_admins_the_weakest_cases_and_setters_only_aggregates(scored, client):
    workspace = scored.workspace
    PairwiseRun.objects.create(workspace=workspace, eval_run=scored, kind="prompt", candidate_prompt="Be brief.",
                               budget_tokens=1000, judge_prompt_version="x", status="done", metrics={
                                   "n": 4, "wins": 3, "ties": 1, "losses": 0, "failed": 0, "verdict": "candidate better",
                                   "win_share": {"value": 1.0, "low": 0.44, "high": 1.0},
                                   "position_consistency": {"value": 0.75, "low": 0.3, "high": 0.95, "consistent": 3,
                                                            "judged": 4}})
    url = reverse("evals:runs", args=[workspace.slug])
    client.force_login(workspace.admin_user)
    admin_page = client.get(url).content.decode()
    assert 'id="weakest-cases"' in admin_page and "scripted 1" in admin_page
    assert "Separates" in admin_page and "3 / 1 / 0" in admin_page and "3 of 4 pairs" in admin_page
    assert reverse("evals:calibrate", args=[workspace.slug]) in admin_page
    client.force_login(workspace.setter_user)
    setter_page = client.get(url).content.decode()
    assert 'id="weakest-cases"' not in setter_page and "scripted 1" not in setter_page
    assert "[name]" not in setter_page and "Separates" in setter_page and "3 / 1 / 0" in setter_page
    assert reverse("evals:calibrate", args=[workspace.slug]) not in setter_page


def test_a_judge_that_does_not_separate_is_shown_as_such(scored, client):
    metrics = dict(scored.metrics, auc={**scored.metrics["auc"], "value": 0.52, "low": 0.3, "high": 0.7,
                                        "verdict": "does not separate"})
    EvalRun.objects.filter(pk=scored.pk).update(metrics=metrics)
    client.force_login(scored.workspace.setter_user)
    page = client.get(reverse("evals:runs", args=[scored.workspace.slug])).content.decode()
    assert "Does not separate" in page and "do not trust them" in page


def test_weekly_optin_is_for_admins_audited_and_separate_from_the_report(scored, client):
    workspace = scored.workspace
    url = reverse("evals:weekly_optin", args=[workspace.slug])
    client.force_login(workspace.setter_user)
    assert client.post(url, {"weekly_evals": "on"}).status_code == 403
    client.force_login(workspace.admin_user)
    assert client.post(url, {"weekly_evals": "on"}).status_code == 302
    assert EvalsSettings.objects.get(workspace=workspace).weekly_evals
    assert AuditEvent.objects.filter(workspace=workspace, verb="evals.settings_updated").count() == 1
    from insights.models import InsightsSettings
    assert not InsightsSettings.objects.filter(workspace=workspace, weekly_report=True).exists()


def _take_weekly_tasks(workspace_id: int) -> list[dict]:
    """Remove and return the headers of the weekly eval tasks queued for this workspace (tests share Redis)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for raw in client.lrange("llm", 0, -1):
        headers = json.loads(raw).get("headers", {})
        if headers.get("task") == "evals.tasks.weekly_eval" and headers.get("argsrepr") == f"[{workspace_id}]":
            client.lrem("llm", 1, raw)
            found.append(headers)
    return found


def test_the_beat_entry_runs_the_fan_out_on_tuesday_at_seven_utc():
    from sidekick_project.celery import app

    entry = app.conf.beat_schedule["evals-weekly-runs"]
    assert entry["task"] == "evals.tasks.weekly_evals" and entry["options"]["expires"] == 6 * 60 * 60
    assert (entry["schedule"].hour, entry["schedule"].minute, entry["schedule"].day_of_week) == ({7}, {0}, {2})


def test_weekly_fan_out_and_run_once(scored, fake_llm, other_workspace):
    workspace = scored.workspace
    EvalsSettings.objects.create(workspace=workspace, weekly_evals=True)
    EvalsSettings.objects.create(workspace=other_workspace, weekly_evals=True)  # no provider: skipped
    now = timezone.now()
    assert weekly_evals_enqueue(task=tasks.weekly_eval) == 1
    (headers,) = _take_weekly_tasks(workspace.pk)
    assert _take_weekly_tasks(other_workspace.pk) == []
    assert now + timedelta(hours=5) < datetime.fromisoformat(headers["expires"]) <= now + timedelta(hours=6, seconds=5)
    assert weekly_eval_run(workspace_id=workspace.pk) is None  # the fixture's run is a system run on that report
    EvalRun.objects.filter(pk=scored.pk).update(requested_by=workspace.admin_user)  # an admin's run does not count
    run = weekly_eval_run(workspace_id=workspace.pk)
    assert run is not None and run.requested_by is None and run.metrics["scored"] == CASES
    assert weekly_eval_run(workspace_id=workspace.pk) is None  # a second copy does nothing
    EvalsSettings.objects.filter(workspace=workspace).update(weekly_evals=False)
    EvalRun.objects.filter(pk=run.pk).delete()
    assert weekly_eval_run(workspace_id=workspace.pk) is None  # turned off


def test_erasure_deletes_the_labels_of_erased_messages(scored):
    from django.db import transaction

    case = EvalCase.objects.filter(run=scored).first()
    CalibrationLabel.objects.create(workspace=scored.workspace, message_id=case.message_id, label="good")
    with transaction.atomic():
        assert eval_cases_erase(workspace=scored.workspace, message_ids=[case.message_id]) == 1
    assert not CalibrationLabel.objects.exists()


def test_admins_see_the_estimate_before_a_run_starts(scored, fake_llm, client):
    workspace = scored.workspace
    client.force_login(workspace.admin_user)
    requests, runs = len(fake_llm.requests), EvalRun.objects.count()
    fragment = client.get(reverse("evals:run_estimate", args=[workspace.slug]), HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and f"{CASES} decided" in body and "tokens</strong>" in body
    assert 'id="eval-runs"' not in body  # the fragment only
    assert EvalRun.objects.count() == runs and len(fake_llm.requests) == requests  # nothing stored or judged
    start = reverse("evals:run_start", args=[workspace.slug])
    assert client.post(start, {"report": scored.report_id, "budget_tokens": 10}).status_code == 302
    assert EvalRun.objects.count() == runs  # below the minimum budget: refused
    client.post(start, {"report": scored.report_id, "budget_tokens": 50_000})
    run = EvalRun.objects.first()
    assert EvalRun.objects.count() == runs + 1
    assert (run.requested_by, run.budget_tokens, run.estimated_tokens > 0) == (workspace.admin_user, 50_000, True)
    assert ("evals.tasks.eval_run_score", f"({run.pk},)") in queued_tasks("llm")
    client.force_login(workspace.setter_user)
    assert 'id="run-form"' not in client.get(reverse("evals:runs", args=[workspace.slug])).content.decode()
