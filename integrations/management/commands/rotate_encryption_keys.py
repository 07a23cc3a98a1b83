from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.crypto import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            names = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not names:
                continue
            # Loading decrypts with whichever key matches; saving encrypts with the first key.
            with transaction.atomic():
                for obj in model._base_manager.select_for_update().only("pk", *names).iterator():
                    model._base_manager.filter(pk=obj.pk).update(**{n: getattr(obj, n) for n in names})
                    total += 1
            self.stdout.write(f"{model._meta.label}: re-encrypted {', '.join(names)}")
        self.stdout.write(self.style.SUCCESS(f"Rotated {total} rows."))
