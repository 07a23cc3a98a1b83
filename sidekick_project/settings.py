"""Sidekick settings, read top to bottom, one section per concern.

Every value comes from the environment (or a `.env` file beside manage.py); the README lists them
all. A malformed value stops start-up with an error that names the variable.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from sidekick_project import env

BASE_DIR = Path(__file__).resolve().parent.parent
if (BASE_DIR / ".env").exists():
    env.env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str_("SIDEKICK_VAR_DIR", str(BASE_DIR / "var"))).resolve()

# --- Core -----------------------------------------------------------------------------------------
DEBUG = env.bool_("DEBUG", False)

SECRET_KEY = env.str_("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (50+ random characters)")
    SECRET_KEY = "dev-only-insecure-key-never-used-with-debug-off-0123456789"

ALLOWED_HOSTS = env.list_("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names Sidekick serves when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env.list_("CSRF_TRUSTED_ORIGINS")
# Where `make run` serves (sidekick_project.runner reads these two), and the one absolute base every
# link that leaves a page is built from: webhook and OAuth addresses, invitation, password-reset and
# escalation e-mails, `simulate_dm`'s target. Unset, SITE_URL follows RUN_HOST/RUN_PORT, so
# `RUN_PORT=8500 make run` gives :8500 links everywhere; behind a proxy set SITE_URL to the public address.
RUN_HOST = env.str_("RUN_HOST", "127.0.0.1")
RUN_PORT = env.int_("RUN_PORT", 8000, minimum=1, maximum=65535)
_LINK_HOST = "127.0.0.1" if RUN_HOST in ("0.0.0.0", "::", "") else RUN_HOST  # noqa: S104 - a bind-all address is not a link
SITE_URL = env.str_("SITE_URL", f"http://{_LINK_HOST}:{RUN_PORT}").rstrip("/")
# Where browsers read the assistant's live answers (server-sent events, assistant.stream): empty is this
# same server (a request thread per reader: fine for a few); `make run` sets the ASGI stream process it
# starts on RUN_PORT + 1 (one event loop for every reader). Behind a proxy, route
# /w/<slug>/assistant/messages/<id>/stream/ to that process and leave this empty.
ASSISTANT_STREAM_URL = env.str_("ASSISTANT_STREAM_URL", "").rstrip("/")

INSTALLED_APPS = [
    "accounts.apps.SidekickAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "accounts",
    "integrations",
    "contacts",
    "conversations",
    "knowledge",
    "changes",
    "insights",
    "evals",
    "assistant",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /webhooks/meta/ answers here: the rest of the stack has nothing to do for a signed machine call.
    "integrations.middleware.MetaWebhookShortcutMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "sidekick_project.urls"
WSGI_APPLICATION = "sidekick_project.wsgi.application"
ASGI_APPLICATION = "sidekick_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspace_nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# DATABASE_URL points at a real server; unset, an embedded Postgres 16 + pgvector (pgserver wheel)
# is started under var/postgres, or reused when it already runs.
# EMBEDDED_STARTED lists what this process started, so whoever started a service can stop it.
EMBEDDED_STARTED: list[str] = []
_database = env.database("DATABASE_URL")
if _database is None:
    from sidekick_project import embedded

    _pg = embedded.ensure_postgres(VAR_DIR)
    _database = _pg.database_settings()
    if _pg.started_here:
        EMBEDDED_STARTED.append("postgres")
_database.setdefault("CONN_MAX_AGE", env.int_("DATABASE_CONN_MAX_AGE", 60, minimum=0))
_database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery broker ----------------------------------------------------------------
REDIS_URL = env.url("REDIS_URL", {"redis", "rediss", "unix"})
if REDIS_URL is None:
    from sidekick_project import embedded

    _redis = embedded.ensure_redis(VAR_DIR)
    REDIS_URL, CELERY_BROKER_URL = _redis.url, _redis.celery_url
    if _redis.started_here:
        EMBEDDED_STARTED.append("redis")
elif REDIS_URL.startswith("unix://"):
    CELERY_BROKER_URL = "redis+socket://" + REDIS_URL.removeprefix("unix://")
else:
    CELERY_BROKER_URL = REDIS_URL

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str_("CACHE_KEY_PREFIX", "sidekick"),
    }
}

# --- Celery ---------------------------------------------------------------------------------------
# Queues: `intake` (webhook events; fast, never waits on an LLM), `llm` (reply drafting; slow,
# I/O bound, run with a thread pool), `default` (everything else, periodic jobs).
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = env.int_("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.int_("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool_("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes the thread's database connection before and after every task unless
# this is set: each task then opened a new one (a Postgres backend fork, authentication and cold
# catalog caches). Connections are kept instead and treated like Django's per-request ones:
# `sidekick_project.celery` calls close_old_connections() around each task (CONN_MAX_AGE, health
# checks, broken connections closed).
CELERY_DB_REUSE_MAX = 10**9

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Super-admins: the only users who reach the Django admin and see every workspace.
SUPERADMIN_EMAILS = env.emails("SUPERADMIN_EMAILS")
INVITATION_TTL_DAYS = env.int_("INVITATION_TTL_DAYS", 7, minimum=1, maximum=90)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, state in Postgres: Redis only carries work, login must not need it).
# Every login form (dashboard and Django admin) goes through the axes backend first. A client is
# locked out for AXES_COOLOFF_TIME once one account has AXES_FAILURE_LIMIT failures in it (from any
# address), or one address has LOGIN_FAILURE_LIMIT_PER_ADDRESS (on any accounts): see accounts.throttle.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "accounts.throttle.AccountOrAddressHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int_("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int_("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 20, minimum=1, maximum=10_000)
AXES_COOLOFF_TIME = timedelta(minutes=env.int_("LOGIN_COOLOFF_MINUTES", 15, minimum=1, maximum=24 * 60))
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.throttle.login_username"
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.throttle.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not kept (AccessLog would grow without bound)
AXES_VERBOSE = False
# Hops that append to X-Forwarded-For in front of Sidekick (the TLS proxy): the client address is read
# that many entries from the right. 0 uses REMOTE_ADDR (anything in the header could be forged).
TRUSTED_PROXY_COUNT = env.int_("TRUSTED_PROXY_COUNT", 1 if env.bool_("BEHIND_TLS_PROXY", False) else 0,
                               minimum=0, maximum=10)
# Password reset requests, counted in Postgres (accounts.throttle): past either limit in the last hour
# no mail is sent, and the answer is the same "check your email" page.
PASSWORD_RESET_LIMIT_PER_EMAIL = env.int_("PASSWORD_RESET_LIMIT_PER_EMAIL", 5, minimum=1, maximum=1000)
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.int_("PASSWORD_RESET_LIMIT_PER_ADDRESS", 20, minimum=1, maximum=10_000)

# --- Secrets at rest ----------------------------------------------------------------------------
# Fernet keys, comma-separated; the first encrypts, all decrypt (rotation). With DEBUG on and none
# given, a key derived from SECRET_KEY keeps local development working.
FIELD_ENCRYPTION_KEYS = env.fernet_keys("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off; generate one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    FIELD_ENCRYPTION_KEYS = [env.derived_fernet_key(SECRET_KEY)]

# --- Email ----------------------------------------------------------------------------------------
_email_url = env.url("EMAIL_URL", {"smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail", "filemail", "memorymail", "dummymail"})
if _email_url:
    vars().update(env.env.email_url_config(_email_url))
else:
    # Printed mails carry reset links into the logs: with DEBUG off the accounts.E001 check refuses to
    # start on this (or any console, memory or dummy backend); EMAIL_URL must name a real one.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str_("DEFAULT_FROM_EMAIL", "Sidekick <sidekick@localhost>")

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) --------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str_("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str_("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool_("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production) ------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool_("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool_("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env.bool_("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env.int_("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool_("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.bool_("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool_("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Requests to the health check come from the load balancer over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging --------------------------------------------------------------------------------------
_log_format = env.str_("LOG_FORMAT", "text" if DEBUG else "json")
if _log_format not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={_log_format!r} must be 'text' or 'json'")
LOG_LEVEL = env.str_("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": _log_format}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}
# axes logs every login attempt at INFO; lockouts and failures (WARNING, addresses masked) are enough.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}

# --- LLM gateway (integrations.llm) ---------------------------------------------------------------
# Every LLM call goes through integrations.llm.gateway.llm_complete, which applies these.
LLM_TIMEOUT_SECONDS = env.float_("LLM_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=600)
# Retries of transient errors (rate limit, timeout, connection, 5xx) after the first attempt.
LLM_MAX_RETRIES = env.int_("LLM_MAX_RETRIES", 2, minimum=0, maximum=10)
# Exponential backoff with full jitter: sleep U(0, min(max, base * 2**retry)); a provider's
# Retry-After is honoured up to LLM_RETRY_MAX_DELAY, beyond it the gateway gives up at once.
LLM_RETRY_BASE_DELAY = env.float_("LLM_RETRY_BASE_DELAY", 0.5, minimum=0, maximum=60)
LLM_RETRY_MAX_DELAY = env.float_("LLM_RETRY_MAX_DELAY", 8.0, minimum=0, maximum=300)
# Cost estimates for models missing from integrations/llm/pricing.py, USD per million tokens.
LLM_FALLBACK_INPUT_USD_PER_MTOK = env.float_("LLM_FALLBACK_INPUT_USD_PER_MTOK", 3.0, minimum=0)
LLM_FALLBACK_OUTPUT_USD_PER_MTOK = env.float_("LLM_FALLBACK_OUTPUT_USD_PER_MTOK", 15.0, minimum=0)


def _token_limit(name: str, default: int | None) -> int | None:
    """A token limit: a whole number, or `unlimited`."""
    value = env.str_(name, "")
    if value.lower() == "unlimited":
        return None
    if value and not value.isdigit():
        raise ImproperlyConfigured(f"{name}={value!r} must be a whole number of tokens or 'unlimited'")
    return int(value) if value else default


# Default token limits (input + output) for workspaces without their own LLMQuotaPolicy row.
LLM_QUOTA_DEFAULTS = {
    "setter_daily": _token_limit("LLM_QUOTA_SETTER_DAILY", 200_000),
    "setter_monthly": _token_limit("LLM_QUOTA_SETTER_MONTHLY", 3_000_000),
    "admin_daily": _token_limit("LLM_QUOTA_ADMIN_DAILY", 500_000),
    "admin_monthly": _token_limit("LLM_QUOTA_ADMIN_MONTHLY", 10_000_000),
    "workspace_daily": _token_limit("LLM_QUOTA_WORKSPACE_DAILY", 5_000_000),
    "workspace_monthly": _token_limit("LLM_QUOTA_WORKSPACE_MONTHLY", 100_000_000),
}

# --- Meta channels (Instagram, Messenger) ---------------------------------------------------------
# Two Meta apps may sign webhooks: the Facebook Login app (Messenger) and the Instagram Login app.
META_APP_ID = env.str_("META_APP_ID")
META_APP_SECRET = env.str_("META_APP_SECRET")
INSTAGRAM_APP_ID = env.str_("INSTAGRAM_APP_ID")
INSTAGRAM_APP_SECRET = env.str_("INSTAGRAM_APP_SECRET")
META_VERIFY_TOKEN = env.str_("META_VERIFY_TOKEN")
META_GRAPH_URL = (env.url("META_GRAPH_URL", {"https", "http"}) or "https://graph.facebook.com").rstrip("/")
INSTAGRAM_GRAPH_URL = (env.url("INSTAGRAM_GRAPH_URL", {"https", "http"}) or "https://graph.instagram.com").rstrip("/")
META_GRAPH_VERSION = env.str_("META_GRAPH_VERSION", "v23.0")
# OAuth hosts for connecting channels (Business Login for Instagram; Facebook Login dialog).
INSTAGRAM_OAUTH_URL = (env.url("INSTAGRAM_OAUTH_URL", {"https", "http"}) or "https://api.instagram.com").rstrip("/")
FACEBOOK_DIALOG_URL = (env.url("FACEBOOK_DIALOG_URL", {"https", "http"}) or "https://www.facebook.com").rstrip("/")
# How long a started connect flow (state, then the Page choice) stays valid, in seconds.
META_OAUTH_STATE_MAX_AGE = env.int_("META_OAUTH_STATE_MAX_AGE", 900, minimum=60, maximum=3600)
if not META_GRAPH_VERSION.startswith("v"):
    raise ImproperlyConfigured(f"META_GRAPH_VERSION={META_GRAPH_VERSION!r} must look like v23.0")
# Larger POSTs are refused (413) before the body is read; Meta's batches of 1000 updates stay far below.
META_WEBHOOK_MAX_BYTES = env.int_("META_WEBHOOK_MAX_BYTES", 2 * 1024 * 1024, minimum=1024, maximum=2_500_000)
# Graph API calls: read timeout in seconds, attempts per call for retryable errors (backoff + jitter).
META_HTTP_TIMEOUT = env.float_("META_HTTP_TIMEOUT", 10.0, minimum=0.5, maximum=60)
META_HTTP_MAX_ATTEMPTS = env.int_("META_HTTP_MAX_ATTEMPTS", 3, minimum=1, maximum=10)
# Worker-level bounds: a send is retried (by the sweeper) at most this many times in all.
META_SEND_MAX_ATTEMPTS = env.int_("META_SEND_MAX_ATTEMPTS", 5, minimum=1, maximum=50)
# A send claimed longer ago than this, without an outcome, is marked `unknown` (never re-sent blindly).
META_SEND_STUCK_SECONDS = env.int_("META_SEND_STUCK_SECONDS", 120, minimum=30)
META_EVENT_MAX_ATTEMPTS = env.int_("META_EVENT_MAX_ATTEMPTS", 5, minimum=1, maximum=50)
# Instagram user tokens (60 days) are refreshed once they are this close to expiry.
INSTAGRAM_TOKEN_REFRESH_DAYS = env.int_("INSTAGRAM_TOKEN_REFRESH_DAYS", 10, minimum=1, maximum=59)
# A built-in, in-process Graph API stand-in that records sends (try Sidekick without a Meta app).
META_SANDBOX = env.bool_("META_SANDBOX", False)
if META_SANDBOX:
    # Sandbox webhooks (manage.py simulate_dm) are signed with a secret derived from SECRET_KEY
    # unless a real one is configured.
    SANDBOX_APP_SECRET = env.derived_fernet_key("sandbox-app-secret:" + SECRET_KEY)
    META_APP_SECRET = META_APP_SECRET or SANDBOX_APP_SECRET
    INSTAGRAM_APP_SECRET = INSTAGRAM_APP_SECRET or SANDBOX_APP_SECRET
    META_VERIFY_TOKEN = META_VERIFY_TOKEN or "sandbox-verify-token"
# A dead broker must not hold a webhook request: connect fast, publish without retries (the sweeper
# re-enqueues whatever stayed pending). Without these, kombu re-tries the connection for ~6 s per
# publish. Workers are unaffected: their consumer loop reconnects on its own schedule.
CELERY_BROKER_TRANSPORT_OPTIONS.update({
    "socket_connect_timeout": 2, "socket_timeout": 5,
    "max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5,
})
# urllib3 logs request lines at DEBUG, and Instagram's token refresh carries the token in the query.
LOGGING["loggers"]["urllib3"] = {"level": "WARNING"}
# BENCH=1 exposes /bench/bare, the ceiling `bench/webhook.py` compares the webhook against.
BENCH = env.bool_("BENCH", False)

# --- Knowledge base (knowledge app, integrations/embeddings) ---------------------------------------
# Uploads above this size are rejected with a message on the document (bytes are kept in Postgres).
KNOWLEDGE_MAX_UPLOAD_MB = env.int_("KNOWLEDGE_MAX_UPLOAD_MB", 10, minimum=1, maximum=200)
# Target chunk length and the overlap carried into the next chunk of the same section, in characters.
# all-MiniLM-L6-v2 reads at most 256 word pieces (the rest of a longer text is cut off unseen); English
# prose runs ~4.3 characters a word piece, so 800 characters plus the title › section prefix stay inside
# that window (~190 word pieces; 1000 characters reached ~240 before the prefix, and dense text more).
KNOWLEDGE_CHUNK_CHARS = env.int_("KNOWLEDGE_CHUNK_CHARS", 800, minimum=200, maximum=8000)
KNOWLEDGE_CHUNK_OVERLAP_CHARS = env.int_("KNOWLEDGE_CHUNK_OVERLAP_CHARS", 120, minimum=0, maximum=2000)
if KNOWLEDGE_CHUNK_OVERLAP_CHARS >= KNOWLEDGE_CHUNK_CHARS // 2:
    raise ImproperlyConfigured("KNOWLEDGE_CHUNK_OVERLAP_CHARS must be less than half of KNOWLEDGE_CHUNK_CHARS")
# Embedding provider for workspaces that have not chosen one: local (all-MiniLM-L6-v2 on this server's
# CPU, part of the default install), none or openai_compatible (the latter needs
# KNOWLEDGE_DEFAULT_EMBEDDING_MODEL/_DIMENSION/_BASE_URL; keys are set per workspace).
KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER = env.str_("KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER", "local")
if KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER not in {"none", "local", "openai_compatible"}:
    raise ImproperlyConfigured("KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER must be none, local or openai_compatible")
KNOWLEDGE_DEFAULT_EMBEDDING_MODEL = env.str_("KNOWLEDGE_DEFAULT_EMBEDDING_MODEL", "")
KNOWLEDGE_DEFAULT_EMBEDDING_DIMENSION = env.int_("KNOWLEDGE_DEFAULT_EMBEDDING_DIMENSION", 0, minimum=0, maximum=16000)
KNOWLEDGE_DEFAULT_EMBEDDING_BASE_URL = env.str_("KNOWLEDGE_DEFAULT_EMBEDDING_BASE_URL", "")
KNOWLEDGE_EMBEDDING_BATCH_SIZE = env.int_("KNOWLEDGE_EMBEDDING_BATCH_SIZE", 64, minimum=1, maximum=2048)
# CPU threads the local model uses for an ingestion batch in a process; 0 = the cores this process may run on
# (sched_getaffinity). A single query (a reply's retrieval) always runs on one thread, the caller's.
KNOWLEDGE_EMBEDDING_THREADS = env.int_("KNOWLEDGE_EMBEDDING_THREADS", 0, minimum=0, maximum=256)
KNOWLEDGE_EMBEDDING_TIMEOUT_SECONDS = env.int_("KNOWLEDGE_EMBEDDING_TIMEOUT_SECONDS", 30, minimum=1, maximum=600)
# A workspace whose chunks for one model reach this count gets its own partial HNSW index; below it,
# vector search is an exact scan of that workspace's rows (exact recall; see BENCHMARKS.md).
KNOWLEDGE_HNSW_MIN_CHUNKS = env.int_("KNOWLEDGE_HNSW_MIN_CHUNKS", 5000, minimum=1)
# hnsw.ef_search: 200 gives recall@10 0.981 on the bench (0.958 at 100) for about +0.4 ms per hybrid query.
KNOWLEDGE_HNSW_EF_SEARCH = env.int_("KNOWLEDGE_HNSW_EF_SEARCH", 200, minimum=10, maximum=1000)
# Hybrid search runs its vector side on a helper thread (own DB connection) beside the full-text
# side when not inside a transaction: at most this many helpers (and extra connections) per process;
# 0 runs the two sides one after the other. See knowledge/search_workers.py.
KNOWLEDGE_SEARCH_THREADS = env.int_("KNOWLEDGE_SEARCH_THREADS", 2, minimum=0, maximum=32)

# An insights report counts its people in this many database sessions side by side, each a share of
# the people on one snapshot (insights/report.py, `_report_rows`): about one core of the database
# server each while it runs. 1 counts in one session.
INSIGHTS_REPORT_SHARDS = env.int_("INSIGHTS_REPORT_SHARDS", min(4, os.cpu_count() or 1), minimum=1, maximum=32)
# Full-text side: at most this many matching chunks are ranked per query, those matching the most
# query terms first (all of them when fewer match). Bounds lexical latency in large workspaces.
KNOWLEDGE_LEXICAL_CANDIDATES = env.int_("KNOWLEDGE_LEXICAL_CANDIDATES", 300, minimum=40, maximum=100_000)
# faq_match(): minimum trigram similarity (0..1) between a message and an FAQ question.
KNOWLEDGE_FAQ_MATCH_THRESHOLD = env.float_("KNOWLEDGE_FAQ_MATCH_THRESHOLD", 0.75, minimum=0.0, maximum=1.0)
# "Test a question": a passage found by the vector side alone (no word in common) farther than this cosine
# distance is shown as loosely related, not as a source Sidekick would answer from (nearest neighbours always
# exist; an unrelated question's are around 0.9 with all-MiniLM-L6-v2).
KNOWLEDGE_TEST_LOOSE_DISTANCE = env.float_("KNOWLEDGE_TEST_LOOSE_DISTANCE", 0.75, minimum=0.0, maximum=2.0)
# Queued or processing work older than this is re-enqueued by the knowledge sweeper.
KNOWLEDGE_STUCK_AFTER_MINUTES = env.int_("KNOWLEDGE_STUCK_AFTER_MINUTES", 15, minimum=1)
