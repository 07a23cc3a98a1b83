from django.apps import AppConfig


def _member_removed(sender, *, workspace, user, actor, **kwargs):
    from conversations.services import threads_unassign_member

    threads_unassign_member(workspace=workspace, user=user, actor=actor)


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self):
        # accounts cannot import conversations (the layers): it announces a removal, the inbox reacts.
        from accounts.signals import member_removed

        member_removed.connect(_member_removed, dispatch_uid="conversations.unassign_removed_member")
