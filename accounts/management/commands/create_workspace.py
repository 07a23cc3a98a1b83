from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Workspace


class Command(BaseCommand):
    help = "Create a workspace with its first admin (created when the email is new)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin", required=True, metavar="EMAIL")
        parser.add_argument("--password", help="Set the admin's password (otherwise use password reset).")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args, slug, name, admin, password, timezone, **options):
        if Workspace.objects.filter(slug=slug).exists():
            raise CommandError(f"A workspace with slug {slug!r} already exists.")
        try:
            workspace, user = services.workspace_create(
                slug=slug, name=name, admin_email=admin, password=password, timezone_name=timezone
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Created workspace {workspace.slug!r} with admin {user.email}."))
