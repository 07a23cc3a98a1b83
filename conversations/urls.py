from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("w/<slug:workspace_slug>/inbox/", views.inbox, name="inbox"),
    path("w/<slug:workspace_slug>/inbox/<int:thread_id>/", views.thread_detail, name="thread"),
    path("w/<slug:workspace_slug>/inbox/<int:thread_id>/reply/", views.thread_reply, name="thread_reply"),
    path("w/<slug:workspace_slug>/inbox/<int:thread_id>/takeover/", views.thread_takeover, name="thread_takeover"),
    path("w/<slug:workspace_slug>/inbox/<int:thread_id>/resume/", views.thread_resume, name="thread_resume"),
    path("w/<slug:workspace_slug>/inbox/<int:thread_id>/resolve/", views.thread_resolve, name="thread_resolve"),
]
