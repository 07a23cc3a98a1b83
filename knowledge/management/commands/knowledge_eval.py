"""Report hit@5 of lexical, vector and hybrid retrieval over the shipped samples.

Runs in a transaction that is rolled back: a throw-away workspace, nothing left behind.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Workspace
from integrations.embeddings import local_provider_available
from knowledge.evaluation import evaluate, samples_load
from knowledge.models import KnowledgeSettings


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "hit@5 over knowledge/samples/questions.json, with the default setup (the local model)"

    def add_arguments(self, parser):
        parser.add_argument("--misses", action="store_true", help="list the questions that missed")

    def handle(self, *args, **options):
        provider = "local" if local_provider_available() else "none"
        if provider == "none":
            self.stderr.write("Local model not installed: lexical only (pip install -r requirements.txt)")
        try:
            with transaction.atomic():
                workspace = Workspace.objects.create(slug="knowledge-eval-tmp", name="Knowledge eval")
                KnowledgeSettings.objects.create(workspace=workspace, embedding_provider=provider)
                samples_load(workspace=workspace)
                for mode in ("lexical", "vector", "hybrid"):
                    if mode != "lexical" and provider == "none":
                        continue
                    result = evaluate(workspace=workspace, mode=mode)
                    self.stdout.write(f"{mode:8s} hit@{result.k} = {result.hits}/{result.total} = {result.hit_rate:.3f}")
                    if options["misses"]:
                        for question in result.misses:
                            self.stdout.write(f"    miss: {question}")
                raise _Rollback
        except _Rollback:
            pass
        except Exception as exc:  # noqa: BLE001 - surface as a command error
            raise CommandError(str(exc)) from exc
