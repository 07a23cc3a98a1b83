from django.urls import path

from evals import calibrate_views, proposal_views, views

app_name = "evals"

P = "w/<slug:workspace_slug>/proposals/"
urlpatterns = [
    # Evals: runs, pairwise results, calibration, the weekly opt-in.
    path("w/<slug:workspace_slug>/evals/", views.runs, name="runs"),
    path("w/<slug:workspace_slug>/evals/weekly/", views.weekly_optin, name="weekly_optin"),
    path("w/<slug:workspace_slug>/evals/estimate/", views.run_estimate, name="run_estimate"),
    path("w/<slug:workspace_slug>/evals/start/", views.run_start, name="run_start"),
    path("w/<slug:workspace_slug>/evals/calibrate/", calibrate_views.calibrate, name="calibrate"),
    path("w/<slug:workspace_slug>/evals/calibrate/label/", calibrate_views.calibrate_label, name="calibrate_label"),
    # Proposals and History.
    path(P, proposal_views.proposal_list, name="proposals"),
    path(P + "draft/", proposal_views.proposal_draft, name="proposal_draft"),
    path(P + "from-escalations/", proposal_views.proposals_from_escalations, name="proposals_from_escalations"),
    path(P + "<int:proposal_id>/", proposal_views.proposal_detail, name="proposal"),
    path(P + "<int:proposal_id>/approve/", proposal_views.proposal_approve, name="proposal_approve"),
    path(P + "<int:proposal_id>/reject/", proposal_views.proposal_reject, name="proposal_reject"),
    path(P + "<int:proposal_id>/compare/", proposal_views.proposal_compare, name="proposal_compare"),
    path(P + "<int:proposal_id>/apply/", proposal_views.proposal_apply, name="proposal_apply"),
    path(P + "<int:proposal_id>/rollback/", proposal_views.proposal_rollback, name="proposal_rollback"),
    path(P + "<int:proposal_id>/fan-out/", proposal_views.proposal_fan_out, name="proposal_fan_out"),
    path("w/<slug:workspace_slug>/history/", proposal_views.revision_history, name="history"),
    path("w/<slug:workspace_slug>/history/<slug:kind>/<int:revision_id>/restore/", proposal_views.revision_restore,
         name="history_restore"),
]
