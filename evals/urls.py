from django.urls import path

from evals import calibrate_views, views

app_name = "evals"

urlpatterns = [
    path("w/<slug:workspace_slug>/evals/", views.runs, name="runs"),
]
# Pairwise, calibration and weekly opt-in (brief B)
urlpatterns += [
    path("w/<slug:workspace_slug>/evals/weekly/", views.weekly_optin, name="weekly_optin"),
    path("w/<slug:workspace_slug>/evals/estimate/", views.run_estimate, name="run_estimate"),
    path("w/<slug:workspace_slug>/evals/start/", views.run_start, name="run_start"),
    path("w/<slug:workspace_slug>/evals/calibrate/", calibrate_views.calibrate, name="calibrate"),
    path("w/<slug:workspace_slug>/evals/calibrate/label/", calibrate_views.calibrate_label, name="calibrate_label"),
]
