from django.urls import path

from privacy import views

app_name = "privacy"
W = "w/<slug:workspace_slug>/privacy/"

urlpatterns = [
    path(W, views.requests_page, name="requests"),
    path(W + "my-data/", views.my_data, name="my_data"),
    path(W + "contacts/", views.contact_request, name="contact_request"),
    path(W + "<int:request_id>/download/", views.download, name="download"),
    path(W + "<int:request_id>/retry/", views.retry, name="retry"),
]
