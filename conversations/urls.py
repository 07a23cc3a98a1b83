from django.urls import path

from conversations import (
    counts_views,
    prompt_views,
    queue_views,
    sandbox_views,
    saved_reply_views,
    sidekick_views,
    views,
)

app_name = "conversations"

W = "w/<slug:workspace_slug>/"

urlpatterns = [
    path(W + "inbox/", views.inbox, name="inbox"),
    path(W + "counts/", counts_views.nav_counts_view, name="nav_counts"),
    path(W + "inbox/<int:thread_id>/", views.thread_detail, name="thread"),
    path(W + "inbox/<int:thread_id>/reply/", views.thread_reply, name="thread_reply"),
    path(W + "inbox/<int:thread_id>/takeover/", views.thread_takeover, name="thread_takeover"),
    path(W + "inbox/<int:thread_id>/resume/", views.thread_resume, name="thread_resume"),
    path(W + "inbox/<int:thread_id>/resolve/", views.thread_resolve, name="thread_resolve"),  # "Mark handled"
    path(W + "inbox/<int:thread_id>/assign/", views.thread_assign, name="thread_assign"),
    path(W + "inbox/<int:thread_id>/snooze/", views.thread_snooze, name="thread_snooze"),
    path(W + "inbox/<int:thread_id>/done/", views.thread_done, name="thread_done"),
    path(W + "inbox/<int:thread_id>/reopen/", views.thread_reopen, name="thread_reopen"),
    path(W + "inbox/bulk/", views.inbox_bulk, name="inbox_bulk"),
    path(W + "inbox/<int:thread_id>/saved-replies/", saved_reply_views.saved_reply_picker, name="saved_reply_picker"),
    # Drafts: details on demand, and what a setter does with a pending one.
    path(W + "drafts/<int:draft_id>/", sidekick_views.draft_details, name="draft_details"),
    path(W + "drafts/<int:draft_id>/approve/", sidekick_views.draft_approve, name="draft_approve"),
    path(W + "drafts/<int:draft_id>/edit/", sidekick_views.draft_edit, name="draft_edit"),
    path(W + "drafts/<int:draft_id>/discard/", sidekick_views.draft_discard, name="draft_discard"),
    path(W + "sidekick/", sidekick_views.sidekick, name="sidekick"),
    path(W + "sidekick/auto/", sidekick_views.sidekick_auto, name="sidekick_auto"),
    path(W + "settings/sidekick/", sidekick_views.sidekick_settings, name="sidekick_settings"),
    path(W + "settings/sidekick/follow-ups/", sidekick_views.follow_up_steps, name="follow_up_steps"),
    path(W + "settings/saved-replies/", saved_reply_views.saved_replies, name="saved_replies"),
    path(W + "settings/saved-replies/<int:saved_reply_id>/", saved_reply_views.saved_reply_edit, name="saved_reply_edit"),
    path(W + "settings/saved-replies/<int:saved_reply_id>/delete/", saved_reply_views.saved_reply_remove,
         name="saved_reply_delete"),
    path(W + "sidekick/prompt/", prompt_views.prompt, name="prompt"),
    path(W + "sidekick/prompt/preview/", prompt_views.prompt_preview, name="prompt_preview"),
    path(W + "sidekick/prompt/save/", prompt_views.prompt_save, name="prompt_save"),
    path(W + "sidekick/prompt/<int:revision_id>/diff/", prompt_views.prompt_diff, name="prompt_diff"),
    path(W + "sidekick/prompt/<int:revision_id>/restore/", prompt_views.prompt_restore, name="prompt_restore"),
    path(W + "escalations/", queue_views.escalations, name="escalations"),
    path(W + "escalations/<int:escalation_id>/claim/", queue_views.escalation_claim, name="escalation_claim"),
    path(W + "escalations/<int:escalation_id>/resolve/", queue_views.escalation_resolve, name="escalation_resolve"),
    path(W + "follow-ups/", queue_views.follow_ups, name="follow_ups"),
    path(W + "follow-ups/<int:thread_id>/send/", queue_views.follow_up_send, name="follow_up_send"),
    # META_SANDBOX only: write as a contact and watch the conversation (404 when the sandbox is off).
    path(W + "sandbox/", sandbox_views.sandbox, name="sandbox"),
    path(W + "sandbox/send/", sandbox_views.sandbox_send, name="sandbox_send"),
]
