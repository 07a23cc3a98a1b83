"""Login and password-reset views: Django's own, with the reset throttled (accounts.throttle).

Login throttling needs no view code: the axes backend refuses a locked-out client inside
`authenticate()`, for the dashboard and the Django admin alike, and AxesMiddleware answers 429.
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect

from accounts.throttle import password_reset_request_admit, request_client_ip


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Past a limit, no mail is sent and the answer is the usual "check your email" redirect.

    The counts do not depend on whether the address has an account, and the response is the same
    as for an admitted request, so neither tells an attacker which addresses exist.
    """

    def form_valid(self, form):
        if not password_reset_request_admit(email=form.cleaned_data["email"], ip_address=request_client_ip(self.request)):
            return HttpResponseRedirect(self.get_success_url())
        # The link is built from SITE_URL like every other e-mailed address, not from the Host header
        # of whoever asked (read at request time, so a changed setting applies at once).
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)
