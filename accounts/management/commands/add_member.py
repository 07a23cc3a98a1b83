from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role, Workspace


class Command(BaseCommand):
    help = "Add a member to a workspace (or change their role), creating the user when the email is new."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="Set the password of a newly created user.")

    def handle(self, *args, slug, email, role, password, **options):
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {slug!r}.")
        try:
            membership = services.member_add(workspace=workspace, email=email, role=role, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"{membership.user.email} is {membership.role} in {workspace.slug}."))
