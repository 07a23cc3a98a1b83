from django.urls import path

from insights import views
from insights.optin_views import weekly_optin

app_name = "insights"

urlpatterns = [
    path("w/<slug:workspace_slug>/", views.overview, name="overview"),
    path("w/<slug:workspace_slug>/insights/", views.insights, name="insights"),
    path("w/<slug:workspace_slug>/insights/run/", views.report_run, name="run"),
    path("w/<slug:workspace_slug>/insights/compare/", views.report_compare, name="compare"),
    path("w/<slug:workspace_slug>/insights/reports/<int:report_id>/", views.report_detail, name="report"),
    path("w/<slug:workspace_slug>/insights/reports/<int:report_id>/progress/", views.report_progress,
         name="progress"),
    # Admins only; a setter gets 404.
    path("w/<slug:workspace_slug>/insights/reports/<int:report_id>/evidence/", views.report_evidence,
         name="evidence"),
    path("w/<slug:workspace_slug>/insights/reports/<int:report_id>/cells.csv", views.report_export_csv,
         name="export_csv"),
    path("w/<slug:workspace_slug>/insights/reports/<int:report_id>/metrics.json", views.report_export_json,
         name="export_json"),
    path("w/<slug:workspace_slug>/insights/weekly/", weekly_optin, name="weekly_optin"),
]
