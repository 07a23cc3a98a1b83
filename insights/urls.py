from django.urls import path

from insights import views
from insights.optin_views import weekly_optin

app_name = "insights"

urlpatterns = [
    path("w/<slug:workspace_slug>/", views.overview, name="overview"),
    path("w/<slug:workspace_slug>/insights/weekly/", weekly_optin, name="weekly_optin"),
]
