from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Workspace
from integrations.models import Platform
from integrations.services import channel_connect


class Command(BaseCommand):
    help = "Connect an Instagram account or Facebook Page with a token you already have (self-hosting)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--platform", required=True, choices=Platform.values)
        parser.add_argument("--account-id", required=True, help="Instagram user id or Facebook Page id")
        parser.add_argument("--token", required=True, help="Instagram user token or Page access token")
        parser.add_argument("--name", default="")
        parser.add_argument("--expires-in-days", type=int, default=None,
                            help="token lifetime; Instagram long-lived tokens default to 60 days")
        parser.add_argument("--human-agent", action="store_true", help="the Page has the Human Agent permission")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}")
        days = options["expires_in_days"]
        if days is None and options["platform"] == Platform.INSTAGRAM:
            days = 60
        try:
            channel = channel_connect(
                workspace=workspace, platform=options["platform"], account_id=options["account_id"],
                token=options["token"], name=options["name"],
                token_expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["human_agent"] != channel.human_agent_enabled:
            channel.human_agent_enabled = options["human_agent"]
            channel.save(update_fields=["human_agent_enabled"])
        self.stdout.write(self.style.SUCCESS(
            f"Connected {channel} to {workspace.slug} (token {channel.token_masked})"))
