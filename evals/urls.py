from django.urls import path

from evals import views

app_name = "evals"

urlpatterns = [
    path("w/<slug:workspace_slug>/evals/", views.runs, name="runs"),
]
