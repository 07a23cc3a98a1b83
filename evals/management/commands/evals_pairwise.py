"""manage.py evals_pairwise --workspace SLUG (--prompt-file PATH | --faq-question Q --faq-answer A
[--replaces-faq ID]) [--eval-run ID] [--budget-tokens N]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from evals.models import CandidateKind, EvalRun
from evals.pairwise import DEFAULT_BUDGET_TOKENS, pairwise_run_execute, pairwise_run_prepare
from evals.services import EvalInputError


class Command(BaseCommand):
    help = ("Compare a candidate prompt or FAQ entry with the current version on the held-out cases of an eval "
            "run: each case re-drafted both ways in dry-run mode (nothing sent or saved), judged in both orders.")

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace slug.")
        parser.add_argument("--prompt-file", dest="prompt_file", help="A file holding the candidate prompt text.")
        parser.add_argument("--faq-question", dest="faq_question", help="The candidate FAQ entry's question.")
        parser.add_argument("--faq-answer", dest="faq_answer", help="The candidate FAQ entry's answer.")
        parser.add_argument("--replaces-faq", dest="replaces_faq", type=int,
                            help="The id of the stored FAQ entry the candidate edits (default: a new entry).")
        parser.add_argument("--eval-run", dest="eval_run", type=int,
                            help="The eval run whose held-out cases to use (default: the latest with some).")
        parser.add_argument("--budget-tokens", dest="budget_tokens", type=int, default=DEFAULT_BUDGET_TOKENS,
                            help=f"Stop before spending more tokens than this (default {DEFAULT_BUDGET_TOKENS}).")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        if bool(options["prompt_file"]) == bool(options["faq_question"] or options["faq_answer"]):
            raise CommandError("Give either --prompt-file or --faq-question and --faq-answer.")
        eval_run = None
        if options["eval_run"] is not None:
            eval_run = EvalRun.objects.filter(workspace=workspace, pk=options["eval_run"]).first()
            if eval_run is None:
                raise CommandError(f"No eval run {options['eval_run']} in workspace {workspace.slug!r}.")
        if options["prompt_file"]:
            candidate = {"kind": CandidateKind.PROMPT,
                         "candidate_prompt": Path(options["prompt_file"]).read_text(encoding="utf-8")}
        else:
            candidate = {"kind": CandidateKind.KNOWLEDGE, "candidate_question": options["faq_question"] or "",
                         "candidate_answer": options["faq_answer"] or "", "replaces_faq_id": options["replaces_faq"]}
        try:
            run = pairwise_run_prepare(workspace=workspace, eval_run=eval_run, budget_tokens=options["budget_tokens"],
                                       **candidate)
        except EvalInputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Pairwise run {run.pk} on eval run {run.eval_run_id}: {run.cases.count()} held-out cases, "
                          f"budget {run.budget_tokens} tokens.")
        run = pairwise_run_execute(run=run)
        m = run.metrics
        self.stdout.write(f"Status: {run.status}" + (f" ({run.get_stop_reason_display()})" if run.stop_reason else ""))
        self.stdout.write(f"Wins {m['wins']}, ties {m['ties']}, losses {m['losses']} ({m['failed']} not compared); "
                          f"{run.tokens_used} tokens used.")
        share, consistency = m["win_share"], m["position_consistency"]
        if share["value"] is not None:
            self.stdout.write(f"Candidate's share of decided pairs: {share['value']:.2f} "
                              f"(95% interval {share['low']:.2f}–{share['high']:.2f}): {m['verdict']}.")
        else:
            self.stdout.write(f"No decided pair: {m['verdict']}.")
        if consistency["value"] is not None:
            self.stdout.write(f"Position consistency: {consistency['value']:.2f} "
                              f"({consistency['consistent']} of {consistency['judged']} pairs).")
