import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User, Workspace
from integrations.llm.models import ProviderKind
from integrations.llm.services import llm_provider_save


class Command(BaseCommand):
    help = (
        "Create or update a workspace's LLM provider (one per kind, or one per user with --user). "
        "The first provider of a workspace becomes its default. Pass --api-key - to read the key from "
        "stdin, which keeps it out of shell history and process listings."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--kind", required=True, choices=ProviderKind.values)
        parser.add_argument("--model", required=True, help="model name (Azure: deployment name)")
        parser.add_argument("--api-key", help="API key, or - to read it from stdin")
        parser.add_argument("--base-url", help="Azure endpoint, Ollama or compatible server URL")
        parser.add_argument("--api-version", help="Azure OpenAI API version, e.g. 2024-10-21")
        parser.add_argument("--max-tokens", type=int, help="maximum output tokens per call")
        parser.add_argument("--temperature", type=float, help="sampling temperature (not for Anthropic)")
        parser.add_argument("--user", help="email of a member: make this that user's override")
        parser.add_argument("--default", action="store_true", help="make this the workspace default")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        user = None
        if options["user"]:
            user = User.objects.filter(email__iexact=options["user"]).first()
            if user is None:
                raise CommandError(f"No user with email {options['user']!r}.")
            if options["default"]:
                raise CommandError("--default applies to workspace-wide providers, not to a --user override.")
        api_key = options["api_key"]
        if api_key == "-":
            api_key = sys.stdin.readline().strip()
            if not api_key:
                raise CommandError("--api-key - expects the key on stdin, but stdin was empty.")
        extra = {"temperature": options["temperature"]} if options["temperature"] is not None else {}
        try:
            provider, created = llm_provider_save(
                workspace=workspace, user=user, kind=options["kind"], model=options["model"], api_key=api_key,
                base_url=options["base_url"], api_version=options["api_version"],
                max_tokens=options["max_tokens"], make_default=options["default"], **extra,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            ) if hasattr(exc, "error_dict") else " ".join(exc.messages)
            raise CommandError(f"Invalid provider settings: {problems}") from None
        scope = f"{user.email}'s override" if user else ("default provider" if provider.is_default else "provider")
        self.stdout.write(self.style.SUCCESS(
            f"{'Created' if created else 'Updated'} {provider.get_kind_display()} {scope} "
            f"{provider.model!r} for workspace {workspace.slug} (key: {provider.masked_api_key or 'none'})."
        ))
