from django.urls import path

from knowledge import views

app_name = "knowledge"

_W = "w/<slug:workspace_slug>/knowledge/"

urlpatterns = [
    path(_W, views.knowledge_home, name="home"),
    path(_W + "upload/", views.document_upload, name="upload"),
    path(_W + "documents/<int:document_id>/", views.document_detail, name="document"),
    path(_W + "documents/<int:document_id>/delete/", views.document_delete, name="document_delete"),
    path(_W + "revisions/<int:revision_id>/restore/", views.document_revision_restore, name="document_restore"),
    path(_W + "faq/", views.faq_list, name="faq_list"),
    path(_W + "faq/new/", views.faq_create, name="faq_create"),
    path(_W + "faq/import/", views.faq_import, name="faq_import"),
    path(_W + "faq/<int:faq_id>/", views.faq_detail, name="faq_detail"),
    path(_W + "faq/<int:faq_id>/delete/", views.faq_delete, name="faq_delete"),
    path(_W + "faq/revisions/<int:revision_id>/restore/", views.faq_revision_restore, name="faq_restore"),
    path(_W + "test/", views.search_test, name="test"),
    path(_W + "test/answer/", views.search_test_answer, name="test_answer"),
    path(_W + "test/answer/<str:trial_id>/", views.search_test_answer_result, name="test_answer_result"),
    path(_W + "settings/", views.knowledge_settings, name="settings"),
]
