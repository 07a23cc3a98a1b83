"""manage.py evals_propose --workspace SLUG [--run ID] [--escalations [--days N]]"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Workspace
from evals.models import EvalRun, EvalStatus
from evals.proposal_sources import proposal_from_run, proposals_from_escalations
from evals.proposals import ProposalError
from integrations.llm.errors import LLMGatewayError

DEFAULT_DAYS = 7


class Command(BaseCommand):
    help = ("Draft proposals for a workspace: a prompt change from an eval run's weakest cases and the report's "
            "patterns (one model call), and/or FAQ entries from escalated questions setters answered recently. "
            "Proposals wait for an admin; nothing is applied.")

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace slug.")
        parser.add_argument("--run", type=int, help="A finished eval run's id (default: the latest finished run).")
        parser.add_argument("--escalations", action="store_true",
                            help="Propose FAQ entries from resolved escalations instead of a prompt change.")
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS,
                            help=f"With --escalations: those resolved in the last N days (default {DEFAULT_DAYS}).")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        if options["escalations"]:
            found = proposals_from_escalations(workspace=workspace,
                                               since=timezone.now() - timedelta(days=max(options["days"], 1)))
            skipped = found["skipped"]
            self.stdout.write(f"{len(found['created'])} FAQ proposal(s) created; skipped {skipped['known']} already "
                              f"in the FAQ, {skipped['duplicate']} already proposed, {skipped['no_answer']} without "
                              "a setter's answer.")
            for proposal in found["created"]:
                self.stdout.write(f"  proposal {proposal.pk}: {proposal.title}")
            return
        runs = EvalRun.objects.filter(workspace=workspace, status__in=[EvalStatus.DONE, EvalStatus.STOPPED])
        run = runs.filter(pk=options["run"]).first() if options["run"] is not None else runs.first()
        if run is None:
            raise CommandError("No finished eval run" + (f" {options['run']}" if options["run"] else "")
                               + f" in workspace {workspace.slug!r}; run manage.py evals_run first.")
        try:
            proposal = proposal_from_run(run=run)
        except ProposalError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except LLMGatewayError as exc:
            raise CommandError(f"The model could not draft a proposal: {exc}") from None
        self.stdout.write(f"Proposal {proposal.pk} from eval run {run.pk}: {proposal.title} "
                          f"({proposal.evidence['tokens']} tokens). An admin decides on the Proposals page.")
