import json

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from integrations.meta.sandbox import dm_payload
from integrations.meta.signature import sign
from integrations.models import Channel, Platform


class Command(BaseCommand):
    help = "Post a correctly signed DM webhook, as Meta would, to a running Sidekick."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True)
        parser.add_argument("--platform", required=True, choices=Platform.values)
        parser.add_argument("--from", dest="sender", required=True, help="the contact's platform-scoped id")
        parser.add_argument("--text", required=True)
        parser.add_argument("--account-id", default="", help="which channel, when the workspace has several")
        parser.add_argument("--url", default=None,
                            help="the webhook address (default: SITE_URL/webhooks/meta/, which follows RUN_PORT)")
        parser.add_argument("--times", type=int, default=1, help="deliver the same event N times (duplicates)")

    def handle(self, *args, **options):
        channels = Channel.objects.filter(workspace__slug=options["workspace"], platform=options["platform"])
        if options["account_id"]:
            channels = channels.filter(account_id=options["account_id"])
        channel = channels.first()
        if channel is None:
            raise CommandError(f"No {options['platform']} channel in workspace {options['workspace']!r}")
        secret = settings.INSTAGRAM_APP_SECRET if channel.platform == Platform.INSTAGRAM else settings.META_APP_SECRET
        if not secret:
            raise CommandError("No app secret configured to sign with (set META_APP_SECRET / INSTAGRAM_APP_SECRET "
                               "or META_SANDBOX=1)")
        options["url"] = options["url"] or settings.SITE_URL + reverse("integrations:meta_webhook")
        payload = dm_payload(channel=channel, sender_id=options["sender"], text=options["text"])
        body = json.dumps(payload, ensure_ascii=False).encode()
        for _ in range(max(1, options["times"])):
            try:
                response = requests.post(options["url"], data=body, timeout=10, headers={
                    "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)})
            except requests.RequestException as exc:
                raise CommandError(f"Could not reach {options['url']}: {exc}. Is Sidekick running?") from None
            if response.status_code != 200:
                raise CommandError(f"{options['url']} answered {response.status_code}: {response.text[:200]}")
        self.stdout.write(self.style.SUCCESS(
            f"Delivered to {channel} from {options['sender']}: {options['text']!r} ({response.status_code})"))
