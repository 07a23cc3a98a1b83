from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("w/<slug:workspace_slug>/", views.overview, name="overview"),
]
