import os
import secrets

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.models import User, Workspace
from integrations.models import Channel
from integrations.services import channel_connect
from knowledge.samples import SAMPLES_DIR
from knowledge.services import document_upload, faq_import_csv

ADMIN_EMAIL = "admin@example.com"
SETTER_EMAIL = "setter@example.com"


class Command(BaseCommand):
    help = "Create (or refresh) the demo workspace and print its logins. Safe to run repeatedly."

    def handle(self, *args, **options):
        password = self._password()
        if not Workspace.objects.filter(slug="demo").exists():
            call_command("create_workspace", "demo", name="Harbor Light Studio (demo)", admin=ADMIN_EMAIL,
                         password=password, timezone="Europe/London", stdout=self.stdout)
        call_command("add_member", "demo", SETTER_EMAIL, role="setter", stdout=self.stdout)
        for email in (ADMIN_EMAIL, SETTER_EMAIL):
            user = User.objects.get(email__iexact=email)
            user.set_password(password)
            user.save(update_fields=["password"])
        if settings.META_SANDBOX:
            self._sandbox_channels()
            self._quiet_conversations()
        self._sample_knowledge()
        self.stdout.write(self.style.SUCCESS(
            f"Demo logins (password {password}):\n  admin  {ADMIN_EMAIL}\n  setter {SETTER_EMAIL}"
        ))

    def _sandbox_channels(self) -> None:
        """With META_SANDBOX on, the demo workspace gets channels answered by the Graph stand-in."""
        workspace = Workspace.objects.get(slug="demo")
        for platform, account_id, name in (("instagram", "17841400000000001", "Harbor Light (sandbox Instagram)"),
                                           ("messenger", "100000000000001", "Harbor Light (sandbox Page)")):
            if not Channel.objects.filter(platform=platform, account_id=account_id).exists():
                channel_connect(workspace=workspace, platform=platform, account_id=account_id,
                                token="sandbox-" + secrets.token_urlsafe(24), name=name)
        self.stdout.write("Sandbox channels connected: write as a contact from Sandbox in the dashboard, or run "
                          "`DEBUG=1 META_SANDBOX=1 .venv/bin/python manage.py simulate_dm --workspace demo "
                          "--platform instagram --from 5001 --text 'hi'`")

    def _quiet_conversations(self) -> None:
        """Conversations where the studio wrote last and the contact went quiet, so the follow-up sequence
        has work at once: step 1 due on Instagram, step 2 due on Messenger, one waiting for step 1.

        Created once per contact (ids 9001-9003); the sequence's defaults come with the settings row.
        """
        from datetime import timedelta

        from django.utils import timezone

        from contacts.models import Contact
        from conversations.models import Direction, Message, SenderKind, SendStatus, Thread
        from conversations.settings_rows import sidekick_settings_ensure

        workspace = Workspace.objects.get(slug="demo")
        sidekick_settings_ensure(workspace=workspace)
        now = timezone.now()
        scenes = [  # platform, contact id, name, (contact wrote, studio answered) hours ago, their words, ours
            ("instagram", "9001", "Maya (demo)", (5, 4.5), "How much is a first class?",
             "Your first class is £12, and the intro pack is 3 classes for £30. Shall I book you in this week?"),
            ("messenger", "9002", "Tom (demo)", (21, 20.5), "Do you have anything on Saturday morning?",
             "Yes: Saturday 10:00 Flow and 11:30 Beginners. Would either suit you?"),
            ("instagram", "9003", "Priya (demo)", (2, 1.5), "Is there parking nearby?",
             "There is a public car park two minutes away on Harbour Street. Anything else I can help with?"),
        ]
        for platform, external_id, name, (wrote, answered), theirs, ours in scenes:
            channel = Channel.objects.filter(workspace=workspace, platform=platform).first()
            if channel is None or Contact.objects.filter(channel=channel, external_id=external_id).exists():
                continue
            contact = Contact.objects.create(workspace=workspace, channel=channel, external_id=external_id,
                                             display_name=name, last_inbound_at=now - timedelta(hours=wrote))
            thread = Thread.objects.create(workspace=workspace, channel=channel, contact=contact,
                                           last_inbound_at=now - timedelta(hours=wrote),
                                           last_outbound_at=now - timedelta(hours=answered),
                                           last_message_at=now - timedelta(hours=answered))
            Message.objects.create(workspace=workspace, thread=thread, channel=channel, mid=f"demo_in_{external_id}",
                                   direction=Direction.IN, sender_kind=SenderKind.CONTACT, text=theirs,
                                   sent_at=now - timedelta(hours=wrote))
            Message.objects.create(workspace=workspace, thread=thread, channel=channel, mid=f"demo_out_{external_id}",
                                   direction=Direction.OUT, sender_kind=SenderKind.AI, text=ours,
                                   send_status=SendStatus.SENT, idempotency_key=f"demo:{external_id}",
                                   sent_at=now - timedelta(hours=answered))
        self.stdout.write("Demo conversations gone quiet: the follow-up sequence drafts their nudges within a "
                          "minute (Follow-ups page; an LLM provider lets Sidekick write them).")

    def _sample_knowledge(self) -> None:
        """The shipped sample studio's FAQ and documents, so FAQ-only mode answers from the first DM.

        Both imports are idempotent (same CSV rows and same file bytes change nothing).
        """
        workspace = Workspace.objects.get(slug="demo")
        faq = SAMPLES_DIR / "harbor-studio-faq.csv"
        faq_import_csv(workspace=workspace, actor=None,
                       upload=SimpleUploadedFile(faq.name, faq.read_bytes(), content_type="text/csv"))
        for name in ("harbor-studio-pricing.md", "harbor-studio-policies.md", "harbor-studio-first-visit.pdf"):
            path = SAMPLES_DIR / name
            document_upload(workspace=workspace, actor=None, upload=SimpleUploadedFile(path.name, path.read_bytes()))
        self.stdout.write("Sample knowledge (Harbor Light studio FAQ, pricing, policies) loaded into the demo.")

    def _password(self) -> str:
        """One random password per checkout, kept in var/ so it survives restarts."""
        path = settings.VAR_DIR / "demo-password.txt"
        if path.exists():
            return path.read_text().strip()
        password = "demo-" + secrets.token_urlsafe(9)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created owner-only: never readable by others, not even between a write and a chmod.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            file.write(password + "\n")
        return password
