import unicodedata

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, labelled for email addresses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update({"type": "email", "autocomplete": "email"})


def _same_email(a: str, b: str) -> bool:
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()


class SetOrResetPasswordForm(PasswordResetForm):
    """Django's reset form, also for active members who have no password yet.

    `create_workspace` and `add_member` without `--password` create users with an unusable password and
    point them here; Django's own form skips such users (it assumes they log in some other way, which
    Sidekick has not), so they could never log in. Only the address's exact owner is mailed, as before.
    """

    def get_users(self, email):
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return (user for user in users if _same_email(email, user.email))
