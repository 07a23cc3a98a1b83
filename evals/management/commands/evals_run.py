"""manage.py evals_run --workspace SLUG [--report ID] [--budget-tokens N]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from evals.services import DEFAULT_BUDGET_TOKENS, EvalInputError, eval_run_prepare, eval_run_score
from insights.models import Report


class Command(BaseCommand):
    help = ("Score the decided messages of a done report with the workspace's judge model, within a token "
            "budget, and report how well the scores separate booked from not booked (AUC with an interval).")

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace slug.")
        parser.add_argument("--report", type=int, help="A done report's id (default: the latest done report).")
        parser.add_argument("--budget-tokens", dest="budget_tokens", type=int, default=DEFAULT_BUDGET_TOKENS,
                            help=f"Stop before spending more tokens than this (default {DEFAULT_BUDGET_TOKENS}).")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        report = None
        if options["report"] is not None:
            report = Report.objects.filter(workspace=workspace, pk=options["report"]).first()
            if report is None:
                raise CommandError(f"No report {options['report']} in workspace {workspace.slug!r}.")
        try:
            run = eval_run_prepare(workspace=workspace, report=report, budget_tokens=options["budget_tokens"])
        except EvalInputError as exc:
            raise CommandError(str(exc)) from None
        cases = run.cases.count()
        self.stdout.write(f"Eval run {run.pk} on report {run.report_id}: {cases} cases, judge "
                          f"{run.judge_model or '(no provider)'}; estimated at most {run.estimated_tokens} tokens "
                          f"(${run.estimated_cost_usd}), budget {run.budget_tokens} tokens.")
        run = eval_run_score(run=run)
        metrics = run.metrics
        auc = metrics["auc"]
        self.stdout.write(f"Status: {run.status}" + (f" ({run.get_stop_reason_display()})" if run.stop_reason else ""))
        self.stdout.write(f"Scored {metrics['scored']} of {metrics['cases']} cases ({metrics['failed']} failed); "
                          f"{run.tokens_used} tokens used.")
        if auc["value"] is None:
            self.stdout.write(f"Judge vs outcomes: not enough data ({auc['n_booked']} booked, "
                              f"{auc['n_not_booked']} not booked scored).")
        else:
            self.stdout.write(f"Judge vs outcomes: AUC {auc['value']:.2f} ({auc['confidence']:.0%} interval "
                              f"{auc['low']:.2f}–{auc['high']:.2f}; {auc['n_booked']} booked, "
                              f"{auc['n_not_booked']} not booked): {auc['verdict']}.")
