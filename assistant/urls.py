from django.urls import path

from assistant import views

app_name = "assistant"
W = "w/<slug:workspace_slug>/assistant/"

urlpatterns = [
    path(W, views.conversations, name="conversations"),
    path(W + "panel/", views.panel, name="panel"),
    path(W + "send/", views.send, name="send"),
    path(W + "key/", views.personal_key, name="key"),
    path(W + "<int:conversation_id>/", views.conversation, name="conversation"),
    path(W + "<int:conversation_id>/archive/", views.conversation_archive, name="archive"),
    path(W + "messages/<int:message_id>/", views.message_poll, name="message"),
    path(W + "messages/<int:message_id>/stream/", views.message_stream, name="stream"),
    path(W + "messages/<int:message_id>/stop/", views.message_stop, name="stop"),
    path(W + "messages/<int:message_id>/retry/", views.message_retry, name="retry"),
    path(W + "messages/<int:message_id>/suggest/", views.message_suggest, name="suggest"),
    path(W + "messages/<int:message_id>/suggestions/", views.message_suggestions, name="suggestions"),
    path(W + "messages/<int:message_id>/plan/confirm/", views.plan_confirm, name="plan_confirm"),
    path(W + "messages/<int:message_id>/plan/undo/", views.plan_undo, name="plan_undo"),
    path(W + "messages/<int:message_id>/plan/redo/", views.plan_redo, name="plan_redo"),
    path(W + "messages/<int:message_id>/plan/feedback/", views.plan_feedback, name="plan_feedback"),
    path(W + "contacts/<int:contact_id>/plans/", views.contact_plans, name="contact_plans"),
    path(W + "suggestions/<int:suggestion_id>/apply/", views.suggestion_apply, name="suggestion_apply"),
    path(W + "suggestions/<int:suggestion_id>/reject/", views.suggestion_reject, name="suggestion_reject"),
    path(W + "suggestions/<int:suggestion_id>/undo/", views.suggestion_undo, name="suggestion_undo"),
]
