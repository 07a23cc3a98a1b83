from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, views_auth
from accounts.forms_auth import EmailAuthenticationForm, SetOrResetPasswordForm

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(
        template_name="accounts/login.html", authentication_form=EmailAuthenticationForm,
        redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views_auth.ThrottledPasswordResetView.as_view(
        form_class=SetOrResetPasswordForm, template_name="accounts/password_reset.html",
        email_template_name="accounts/email/password_reset.txt",
        subject_template_name="accounts/email/password_reset_subject.txt",
        success_url="/accounts/password-reset/sent/"), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="accounts/password_reset_sent.html"), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html",
        success_url="/accounts/reset/done/"), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"), name="password_reset_complete"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("w/<slug:workspace_slug>/settings/members/", views.members, name="members"),
    path("w/<slug:workspace_slug>/settings/members/invite/", views.member_invite, name="member_invite"),
    path("w/<slug:workspace_slug>/settings/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("w/<slug:workspace_slug>/settings/members/<int:membership_id>/remove/", views.member_remove,
         name="member_remove"),
    path("w/<slug:workspace_slug>/settings/invitations/<int:invitation_id>/revoke/", views.invitation_revoke,
         name="invitation_revoke"),
    path("w/<slug:workspace_slug>/settings/audit/", views.audit_log, name="audit_log"),
]
