from django.urls import path

from evals import views

app_name = "evals"

urlpatterns = [
    path("w/<slug:workspace_slug>/evals/", views.runs, name="runs"),
]

# Proposals and History (issue 15): evals.proposal_views.
from evals import proposal_views  # noqa: E402

P = "w/<slug:workspace_slug>/proposals/"
urlpatterns += [
    path(P, proposal_views.proposal_list, name="proposals"),
    path(P + "draft/", proposal_views.proposal_draft, name="proposal_draft"),
    path(P + "from-escalations/", proposal_views.proposals_from_escalations, name="proposals_from_escalations"),
    path(P + "<int:proposal_id>/", proposal_views.proposal_detail, name="proposal"),
    path(P + "<int:proposal_id>/approve/", proposal_views.proposal_approve, name="proposal_approve"),
    path(P + "<int:proposal_id>/reject/", proposal_views.proposal_reject, name="proposal_reject"),
    path(P + "<int:proposal_id>/apply/", proposal_views.proposal_apply, name="proposal_apply"),
    path(P + "<int:proposal_id>/rollback/", proposal_views.proposal_rollback, name="proposal_rollback"),
    path(P + "<int:proposal_id>/fan-out/", proposal_views.proposal_fan_out, name="proposal_fan_out"),
    path("w/<slug:workspace_slug>/history/", proposal_views.revision_history, name="history"),
    path("w/<slug:workspace_slug>/history/<slug:kind>/<int:revision_id>/restore/", proposal_views.revision_restore,
         name="history_restore"),
]
