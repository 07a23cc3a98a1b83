"""Clean-up that follows a workspace's deletion (the knowledge app owns DDL the cascade cannot reach)."""

import logging

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import Workspace

logger = logging.getLogger(__name__)


@receiver(post_delete, sender=Workspace, dispatch_uid="knowledge.workspace_indexes_drop")
def workspace_deleted(sender, instance, **kwargs):
    from knowledge.tasks import workspace_indexes_drop

    workspace_id = instance.pk

    def enqueue():
        try:
            workspace_indexes_drop.delay(workspace_id)
        except Exception as exc:  # noqa: BLE001 - a broker outage must not fail the deletion; the sweeper retries
            logger.warning("index clean-up for deleted workspace %s not enqueued (%s); the sweeper will", workspace_id,
                           exc)

    transaction.on_commit(enqueue)
