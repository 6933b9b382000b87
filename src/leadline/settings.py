"""Django settings, read from LEADLINE_* environment variables.

Every knob a deployer needs is an environment variable; nothing secret lives in the repository.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DATA_DIR = Path(os.environ.get("LEADLINE_DATA_DIR", ".leadline")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The key from the environment, else one generated once and kept in the data dir."""
    from_env = os.environ.get("LEADLINE_SECRET_KEY")
    if from_env:
        return from_env
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting together must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("LEADLINE_DEBUG")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("LEADLINE_ALLOWED_HOSTS", "*").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("LEADLINE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
# The public base URL, used in embed snippets and links in mail. Empty: taken from the request.
PUBLIC_URL = os.environ.get("LEADLINE_PUBLIC_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "leadline.core",
    "leadline.notify",
    "leadline.capture",
    "leadline.routing",
    "leadline.journeys",
    "leadline.outreach",
    "leadline.engagement",
    "leadline.calls",
    "leadline.cadences",
    "leadline.booking",
    "leadline.inbound",
    "leadline.commitments",
    "leadline.campaigns",
    "leadline.imports",
    "leadline.relationships",
    "leadline.insight",
    "leadline.privacy",
    "leadline.feedback",
    "leadline.web",
    "leadline.api",
    "leadline.demo",
]

MIDDLEWARE = [
    # Security headers (CSP with a nonce per request, HSTS, Permissions-Policy) on every
    # response, static files included; wrong API tokens counted per address (decision 0020).
    "leadline.web.security.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # privacy: one row per staff look at / change to a person (web pages and the API)
    "leadline.privacy.middleware.AccessLogMiddleware",
]

ROOT_URLCONF = "leadline.urls"
WSGI_APPLICATION = "leadline.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leadline.web.context_processors.inbox",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("LEADLINE_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'leadline.sqlite3'}"
    # Connections are kept (SQLite's too): opening one, with its pragmas, costs about a
    # millisecond that the capture path and each of the worker's tasks would pay again.
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Django's, waiting for the write lock in short steps (see the module).
        config["ENGINE"] = "leadline.core.sqlite_backend"
        # WAL lets readers and one writer work at once; IMMEDIATE takes the write lock at BEGIN,
        # so concurrent writers queue on busy_timeout instead of failing with "database is locked".
        # wal_autocheckpoint: after how many pages of WAL a commit copies them into the
        # database (SQLite's default 1000); the web process leaves that to the worker (wsgi.py,
        # decision 8).
        checkpoint = int(os.environ.get("LEADLINE_SQLITE_AUTOCHECKPOINT", "1000"))
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                f" PRAGMA wal_autocheckpoint={checkpoint};"
            ),
        }
        config["TEST"] = {"NAME": os.environ.get("LEADLINE_TEST_SQLITE_NAME") or None}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _cache() -> dict[str, Any]:
    url = os.environ.get("LEADLINE_CACHE_URL", "")
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "leadline"}


CACHES = {"default": _cache()}

TASKS = {
    "default": {
        "BACKEND": os.environ.get("LEADLINE_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}


def _email() -> dict[str, Any]:
    """LEADLINE_EMAIL_URL: smtp://user:pass@host:port?tls=1 | console: | memory:"""
    url = os.environ.get("LEADLINE_EMAIL_URL", "console:")
    parsed = urlparse(url)
    if parsed.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parsed.scheme == "memory":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parsed.scheme not in {"smtp", "smtps"}:
        raise ValueError(f"LEADLINE_EMAIL_URL: unsupported scheme {parsed.scheme!r}")
    query = parse_qs(parsed.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed.hostname or "localhost",
        "EMAIL_PORT": parsed.port or (465 if parsed.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_SSL": parsed.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls", ["0"])[0] in {"1", "true"},
        "EMAIL_TIMEOUT": 10,
    }


globals().update(_email())
DEFAULT_FROM_EMAIL = os.environ.get("LEADLINE_FROM_EMAIL", "Leadline <leadline@localhost>")

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("LEADLINE_MEDIA_DIR", str(DATA_DIR / "media")))

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
LEADLINE_HTTPS = _env_bool("LEADLINE_HTTPS")
# Strict-Transport-Security max-age, sent only when LEADLINE_HTTPS is on.
SECURITY_HSTS_SECONDS = _env_int("LEADLINE_HSTS_SECONDS", 365 * 24 * 3600)
# Login throttling (core/lockout.py): failures within LOGIN_FAILURE_WINDOW seconds for one
# username, or from one address (several people may share an office's address: a higher
# limit), lock that username / address out for LOGIN_LOCKOUT_SECONDS; wrong API tokens count
# per address (API_IP_MAX_FAILURES). Counted in the database: every process sees them.
LOGIN_MAX_FAILURES = _env_int("LEADLINE_LOGIN_MAX_FAILURES", 5)
LOGIN_IP_MAX_FAILURES = _env_int("LEADLINE_LOGIN_IP_MAX_FAILURES", 20)
LOGIN_FAILURE_WINDOW = _env_int("LEADLINE_LOGIN_FAILURE_WINDOW", 15 * 60)
LOGIN_LOCKOUT_SECONDS = _env_int("LEADLINE_LOGIN_LOCKOUT_SECONDS", 15 * 60)
API_IP_MAX_FAILURES = _env_int("LEADLINE_API_IP_MAX_FAILURES", 20)
if LEADLINE_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Public capture endpoints.
CAPTURE_MAX_BODY_BYTES = _env_int("LEADLINE_CAPTURE_MAX_BODY_BYTES", 64 * 1024)
# "N/S": at most N submissions per client address in S seconds, per process (shared across
# processes when LEADLINE_CACHE_URL points at Redis).
CAPTURE_RATE_LIMIT = os.environ.get("LEADLINE_CAPTURE_RATE_LIMIT", "20/60")
CAPTURE_DOWNLOAD_LINK_MAX_AGE = _env_int("LEADLINE_DOWNLOAD_LINK_MAX_AGE", 7 * 24 * 3600)
# Public tracking endpoint (/t/collect): the largest batch of events, and "N/S" batches per
# client address (t.js sends about one a second on a busy page).
TRACKING_MAX_BODY_BYTES = _env_int("LEADLINE_TRACKING_MAX_BODY_BYTES", 64 * 1024)
TRACKING_RATE_LIMIT = os.environ.get("LEADLINE_TRACKING_RATE_LIMIT", "600/60")
# Issue 9 (public capture and tracking under faults and bots): "N/S" per form and per tracking
# site key, whatever the addresses; the seconds a client is told to wait (Retry-After) when the
# database cannot store; how long those two endpoints wait for SQLite's write lock before that
# answer; the fastest a person fills a form (faster: a bot's, dropped) and how long a rendered
# form's token stays good.
CAPTURE_FORM_RATE_LIMIT = os.environ.get("LEADLINE_CAPTURE_FORM_RATE_LIMIT", "600/60")
TRACKING_SITE_RATE_LIMIT = os.environ.get("LEADLINE_TRACKING_SITE_RATE_LIMIT", "30000/60")
PUBLIC_RETRY_AFTER_SECONDS = _env_int("LEADLINE_PUBLIC_RETRY_AFTER_SECONDS", 5)
PUBLIC_DB_LOCK_WAIT_SECONDS = float(os.environ.get("LEADLINE_PUBLIC_DB_LOCK_WAIT_SECONDS", "5"))
CAPTURE_MIN_FILL_SECONDS = float(os.environ.get("LEADLINE_CAPTURE_MIN_FILL_SECONDS", "2"))
CAPTURE_FILL_TOKEN_MAX_AGE = _env_int("LEADLINE_CAPTURE_FILL_TOKEN_MAX_AGE", 2 * 24 * 3600)
# Trust X-Forwarded-For only behind a proxy that sets it.
BEHIND_PROXY = _env_bool("LEADLINE_BEHIND_PROXY")
DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Imports (issue 6): the largest CSV file the import page and API accept (streamed to disk).
IMPORTS_MAX_UPLOAD_BYTES = _env_int("LEADLINE_IMPORTS_MAX_UPLOAD_MB", 200) * 1024 * 1024

# What happens to a request once capture has made it: dotted paths of functions taking
# `request_id=`, each its own transaction and idempotent. Capture knows no app further down the
# lead's flow; this list is where the flow is joined up.
CAPTURE_REQUEST_HANDLERS = [
    "leadline.routing.services.requests_route_new",  # first: an owner at once
    "leadline.journeys.services.requests_signals_queue",  # a task of its own
]
# Told when a mail to a prospect was sent or given up on (notify must not import the lead's flow).
NOTIFY_MAIL_OUTCOME_HANDLERS = ["leadline.routing.services.request_mail_outcome"]

# Told, in the same transaction, when a call task's outcome is logged (calls must not import
# the apps that make call tasks, such as cadences): each is called with task=<CallTask>.
CALLS_OUTCOME_HANDLERS: list[str] = [
    "leadline.cadences.services.call_task_logged",  # a cadence goes on (or branches)
    "leadline.feedback.services.call_task_logged",  # a connected call: ask for a rating
]

# Told, in the same transaction, when a person unsubscribes or is marked do-not-contact
# (outreach must not import the apps that touch people, such as cadences): each is called with
# person=<Person>, reason="unsubscribed" | "do_not_contact", channel="email" | "phone" | "manual".
OUTREACH_STOP_HANDLERS: list[str] = [
    "leadline.cadences.services.contact_stopped",  # they leave their cadences
    "leadline.feedback.services.stop_signal_record",  # a stop is a signal in the ratings report
]

# Told, in the same transaction, when a meeting is recorded as held (booking must not import
# feedback): each is called with meeting=<Meeting>.
BOOKING_MEETING_HELD_HANDLERS: list[str] = [
    "leadline.feedback.services.meeting_held",  # ask the prospect how it was
]

# Prospect ratings (feedback): after which conversations to ask ("meeting,call"; "" = never).
RATING_AFTER = [
    c.strip()
    for c in os.environ.get("LEADLINE_RATING_AFTER", "meeting,call").split(",")
    if c.strip()
]
# How long a rating link in a mail works.
RATING_LINK_DAYS = _env_int("LEADLINE_RATING_LINK_DAYS", 60)
# An ask refused for quiet hours where they are waits for them to end when that is within this
# many hours (72: a Friday evening's meeting is asked about on Monday morning); else it is skipped.
RATING_HOLD_HOURS = _env_int("LEADLINE_RATING_HOLD_HOURS", 72)
RATING_RATE_LIMIT = os.environ.get("LEADLINE_RATING_RATE_LIMIT", "20/60")

# Routing.
ROUTING_RELATIONSHIP_CAP = _env_int("LEADLINE_RELATIONSHIP_CAP", 150)
ROUTING_DEFAULT_TEAM = os.environ.get("LEADLINE_DEFAULT_TEAM", "")
# How routing counts a seller's load against their cap: a function taking `user_ids=` and
# answering {user id: active relationships}. Routing must not import the apps further down the
# lead's flow (opportunities, conversations), which decide what "active" means.
ROUTING_LOADS = "leadline.relationships.selectors.relationship_loads"

# Relationships (issue 7): a relationship is active while it has an open request, an open
# opportunity, or a touch or conversation in the last RELATIONSHIP_ACTIVE_DAYS; it is going cold
# when its last two-way touch is older than RELATIONSHIP_COLD_DAYS; the team page warns at
# RELATIONSHIP_ALERT_SHARE of a seller's cap.
RELATIONSHIP_ACTIVE_DAYS = _env_int("LEADLINE_RELATIONSHIP_ACTIVE_DAYS", 90)
RELATIONSHIP_COLD_DAYS = _env_int("LEADLINE_RELATIONSHIP_COLD_DAYS", 30)
RELATIONSHIP_ALERT_SHARE = 0.9

# Record visibility (issue 9, decision "record-visibility"): "team" (the default) shows a sales
# rep the people and accounts their team owns and those they have open work with, a sales
# manager their teams' and the unowned ones; "all" shows every record to every staff user.
RECORD_VISIBILITY = os.environ.get("LEADLINE_RECORD_VISIBILITY", "team").strip().lower()
if RECORD_VISIBILITY not in {"team", "all"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured('LEADLINE_RECORD_VISIBILITY must be "team" or "all"')

# Reports on a large database (decision 15): a page shows the worker's snapshot, asking for a
# fresh one when it is older than REPORTS_MAX_AGE_S. REPORTS_INLINE_MAX_PEOPLE, when set,
# replaces every report's own size limit (0: always snapshots; a huge number: never).
REPORTS_MAX_AGE_S = _env_int("LEADLINE_REPORTS_MAX_AGE_S", 15 * 60)
REPORTS_INLINE_MAX_PEOPLE: int | None = (
    _env_int("LEADLINE_REPORTS_INLINE_MAX_PEOPLE", 0)
    if os.environ.get("LEADLINE_REPORTS_INLINE_MAX_PEOPLE")
    else None
)

# Booking: "N/S" booking-page posts (book, reschedule, cancel) per client address; the page an
# appointment set on a call goes to when the person has no owner with a page (a slug; empty:
# the oldest active team page).
BOOKING_RATE_LIMIT = os.environ.get("LEADLINE_BOOKING_RATE_LIMIT", "10/60")
BOOKING_DEFAULT_PAGE = os.environ.get("LEADLINE_BOOKING_DEFAULT_PAGE", "")


# The ideal customer profile the "Fit" label on a person's page measures against
# (insight.labels). Lists are comma-separated; the defaults fit the demo's finance-close product.
def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


FIT_EMPLOYEES_MIN = _env_int("LEADLINE_FIT_EMPLOYEES_MIN", 200)
FIT_EMPLOYEES_MAX = _env_int("LEADLINE_FIT_EMPLOYEES_MAX", 5000)
FIT_INDUSTRIES = _env_list(
    "LEADLINE_FIT_INDUSTRIES",
    "Manufacturing,Logistics,Software,Retail,Financial services,Professional services",
)
FIT_COUNTRIES = _env_list(
    "LEADLINE_FIT_COUNTRIES", "GB,IE,DE,AT,CH,FR,NL,SE,DK,ES,IT,PL,US,CA"
)  # ISO codes
FIT_FUNCTIONS = _env_list("LEADLINE_FIT_FUNCTIONS", "finance")  # journeys.conversations.FUNCTIONS
FIT_SENIORITIES = _env_list("LEADLINE_FIT_SENIORITIES", "executive,director,manager")

# Engagement: when the lifecycle sweep moves people (engagement.qualification). Fit is how many of
# the five profile checks above they meet; interest is the recency-weighted score (a form is 5, a
# request to be contacted 8, a pricing visit 3, halved every 30 days). Engaged at
# LEADLINE_ENGAGED_INTEREST_MIN; marketing-qualified — and handed to sales — when both
# LEADLINE_MQL_FIT_MIN and LEADLINE_MQL_INTEREST_MIN are reached.
MQL_FIT_MIN = _env_int("LEADLINE_MQL_FIT_MIN", 4)
MQL_INTEREST_MIN = _env_int("LEADLINE_MQL_INTEREST_MIN", 15)
ENGAGED_INTEREST_MIN = _env_int("LEADLINE_ENGAGED_INTEREST_MIN", 3)
# A handoff's deadline to accept or reject: business days in the owner's team hours; the owner is
# reminded this many hours before; this many business hours after it, it goes to the next seller.
HANDOFF_BUSINESS_DAYS = _env_int("LEADLINE_HANDOFF_BUSINESS_DAYS", 1)
HANDOFF_REMIND_HOURS = _env_int("LEADLINE_HANDOFF_REMIND_HOURS", 2)
HANDOFF_REASSIGN_HOURS = _env_int("LEADLINE_HANDOFF_REASSIGN_HOURS", 4)

# Notifications: attempts before outgoing mail or a webhook delivery gives up; seconds a webhook
# receiver has to answer.
NOTIFY_MAIL_MAX_ATTEMPTS = _env_int("LEADLINE_MAIL_MAX_ATTEMPTS", 5)
NOTIFY_WEBHOOK_MAX_ATTEMPTS = _env_int("LEADLINE_WEBHOOK_MAX_ATTEMPTS", 6)
NOTIFY_WEBHOOK_TIMEOUT = _env_int("LEADLINE_WEBHOOK_TIMEOUT", 10)
# Seconds to wait after each failed mail attempt (the last one repeats); comma-separated.
NOTIFY_MAIL_RETRY_DELAYS = [
    int(s) for s in _env_list("LEADLINE_MAIL_RETRY_DELAYS", "30,120,600,1800,7200")
]

# Inbound mail: replies and bounces (decision 11). LEADLINE_IMAP_URL: the mailbox the worker reads,
# imaps://user:password@host:993/INBOX (imap://…?starttls=1, or plain imap:// on loopback only);
# empty: no polling. LEADLINE_INBOUND_SECRET: the key of the inbound webhook's signature (POST
# /inbound/mail/); empty: the webhook is off (404). The largest mail taken, in bytes.
INBOUND_IMAP_URL = os.environ.get("LEADLINE_IMAP_URL", "")
INBOUND_IMAP_POLL_SECONDS = _env_int("LEADLINE_IMAP_POLL_SECONDS", 60)
INBOUND_SECRET = os.environ.get("LEADLINE_INBOUND_SECRET", "")
INBOUND_MAX_BYTES = _env_int("LEADLINE_INBOUND_MAX_BYTES", 10 * 1024 * 1024)

# Bare views for the benches to compare against (bench/capture.py: read the body and insert
# one row; bench/tracking.py: read it and answer 204); never on by default.
BENCH_ENDPOINTS = _env_bool("LEADLINE_BENCH_ENDPOINTS")

# How pain points are suggested for a conversation (journeys.pain_matching): "phrases" (the
# catalogue's phrases, whole words) or "semantic" (also a local sentence-embedding model for what
# the phrases miss; needs the extra: pip install 'leadline[nlp]').
PAIN_MATCHING = os.environ.get("LEADLINE_PAIN_MATCHING", "phrases").strip().lower()
if PAIN_MATCHING not in {"phrases", "semantic"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"LEADLINE_PAIN_MATCHING: {PAIN_MATCHING!r} is not one of 'phrases', 'semantic'"
    )

# Attribution (issue 6): how far back before a deal opened its touches count (days); the
# half-life of the time-decay model (days); what the data-driven Markov chain's states are
# ("campaign" or "channel"); the currency of campaign costs and deal amounts.
ATTRIBUTION_LOOKBACK_DAYS = _env_int("LEADLINE_ATTRIBUTION_LOOKBACK_DAYS", 365)
ATTRIBUTION_HALF_LIFE_DAYS = float(os.environ.get("LEADLINE_ATTRIBUTION_HALF_LIFE_DAYS", "7"))
ATTRIBUTION_MARKOV_BY = os.environ.get("LEADLINE_ATTRIBUTION_MARKOV_BY", "campaign").strip()
if ATTRIBUTION_MARKOV_BY not in {"campaign", "channel"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"LEADLINE_ATTRIBUTION_MARKOV_BY: {ATTRIBUTION_MARKOV_BY!r} is not 'campaign' or 'channel'"
    )
CURRENCY = os.environ.get("LEADLINE_CURRENCY", "EUR").strip().upper() or "EUR"

# Privacy (issue 9) and housekeeping (issue 10): how long raw tracking data is kept. Tracking
# events recorded more than TRACKING_RETENTION_DAYS ago are rolled up into days and deleted
# (decision 0025; LEADLINE_RETENTION_EVENTS_DAYS, its old name, still works); processed raw
# event batches and the raw payloads of processed submissions older than RETENTION_RAW_DAYS are
# dropped (the rows the reports read stay). Each sweep does at most RETENTION_BATCHES batches of
# RETENTION_BATCH rows.
TRACKING_RETENTION_DAYS = _env_int(
    "LEADLINE_TRACKING_RETENTION_DAYS", _env_int("LEADLINE_RETENTION_EVENTS_DAYS", 395)
)
RETENTION_EVENTS_DAYS = TRACKING_RETENTION_DAYS  # the old name
RETENTION_RAW_DAYS = _env_int("LEADLINE_RETENTION_RAW_DAYS", 90)
RETENTION_BATCH = _env_int("LEADLINE_RETENTION_BATCH", 5000)
RETENTION_BATCHES = _env_int("LEADLINE_RETENTION_BATCHES", 20)
# The embedded default (SQLite) backs itself up once a day into DATA_DIR/backups/ (the worker's
# sweep) and keeps the newest BACKUP_KEEP of those daily files; off by default on PostgreSQL,
# whose own tooling (pg_dump, base backups) does it better. Decision 0023.
BACKUP_DAILY = _env_bool(
    "LEADLINE_BACKUP_DAILY", DATABASES["default"]["ENGINE"] == "leadline.core.sqlite_backend"
)
BACKUP_KEEP = max(1, _env_int("LEADLINE_BACKUP_KEEP", 7))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LEADLINE_LOG_LEVEL", "WARNING")},
    "loggers": {"leadline": {"level": os.environ.get("LEADLINE_LOG_LEVEL", "INFO")}},
}

# Looking after itself (`leadline doctor`, the System health page; leadline.insight.health).
# Each worker reports every WORKER_HEARTBEAT_SECONDS; one silent for HEALTH_WORKER_STALE_SECONDS
# is stopped or stuck, a loop of it (sweeps, timers) silent for HEALTH_LOOP_STALE_SECONDS is stuck.
# Work waiting past its time by HEALTH_LAG_SECONDS is a warning (ten times that: a failure);
# mail queued longer than HEALTH_MAIL_QUEUED_SECONDS too. The database is big past
# HEALTH_DB_SIZE_WARN_MB; the data directory's disk short below HEALTH_DISK_FREE_MIN_MB; the
# newest backup old past HEALTH_BACKUP_MAX_AGE_HOURS.
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("LEADLINE_WORKER_HEARTBEAT_SECONDS", "5"))
HEALTH_WORKER_STALE_SECONDS = float(os.environ.get("LEADLINE_HEALTH_WORKER_STALE_SECONDS", "60"))
HEALTH_LOOP_STALE_SECONDS = _env_int("LEADLINE_HEALTH_LOOP_STALE_SECONDS", 600)
HEALTH_LAG_SECONDS = _env_int("LEADLINE_HEALTH_LAG_SECONDS", 120)
HEALTH_MAIL_QUEUED_SECONDS = _env_int("LEADLINE_HEALTH_MAIL_QUEUED_SECONDS", 3600)
HEALTH_DB_SIZE_WARN_MB = _env_int("LEADLINE_HEALTH_DB_SIZE_WARN_MB", 20 * 1024)
HEALTH_DISK_FREE_MIN_MB = _env_int("LEADLINE_HEALTH_DISK_FREE_MIN_MB", 1024)
HEALTH_BACKUP_MAX_AGE_HOURS = _env_int("LEADLINE_HEALTH_BACKUP_MAX_AGE_HOURS", 48)
