"""Start-up checks for accounts: `manage.py check`, `migrate` and `runserver` refuse to go on with an error."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.mail.backends import console, dummy, filebased, locmem
from django.utils.module_loading import import_string

# Backends that deliver nothing to the recipient: the console one prints (password-reset links end up
# in the logs), the other two keep mails in memory or drop them. The file backend derives from the
# console one but writes to files of its own, which is fine.
UNDELIVERED = (console.EmailBackend, locmem.EmailBackend, dummy.EmailBackend)


@register(Tags.security)
def email_backend_check(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return [Error(f"EMAIL_BACKEND {settings.EMAIL_BACKEND!r} cannot be imported.",
                      hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.", id="accounts.E001")]
    if isinstance(backend, type) and issubclass(backend, UNDELIVERED) \
            and not issubclass(backend, filebased.EmailBackend):
        return [Error(
            f"With DEBUG off, e-mail must really be sent: {settings.EMAIL_BACKEND} would print password-reset "
            "and invitation links into the logs or lose them.",
            hint="Set EMAIL_URL to an SMTP server, e.g. smtp+tls://user:password@smtp.example.com:587 "
                 "(or filemail:///path/to/a/private/dir for a machine with no mail server).",
            id="accounts.E001",
        )]
    return []
