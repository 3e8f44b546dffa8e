"""Tonne settings, read from the environment.

DATABASE_URL selects the database (PostgreSQL in production); without it the
registry runs on SQLite in WAL mode inside TONNE_DATA_DIR.
"""

from __future__ import annotations

import datetime
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
if "TONNE_DATA_DIR" not in os.environ and "pytest" in sys.modules:
    # Test runs never write keys or documents into a real data directory.
    os.environ["TONNE_DATA_DIR"] = tempfile.mkdtemp(prefix="tonne-test-")
DATA_DIR = Path(os.environ.get("TONNE_DATA_DIR", Path.cwd() / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    # A stable per-installation key kept beside the data, unless supplied.
    if os.environ.get("TONNE_SECRET_KEY"):
        return os.environ["TONNE_SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


DEBUG = _env_bool("TONNE_DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("TONNE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

# Registry identity: the host Party's ISO 3166 alpha-2 code and the name used
# as origin in signed checkpoints.
TONNE_COUNTRY = os.environ.get("TONNE_COUNTRY", "CI").upper()
# "observer": a read-only node showing other registries' published data (same code, this setting).
TONNE_MODE = os.environ.get("TONNE_MODE", "registry")
# A training sandbox (also marked in its data by `tonne demo --training`): every page, PDF and API answer says so.
TONNE_TRAINING = os.environ.get("TONNE_TRAINING", "") == "1"
TONNE_REGISTRY_NAME = os.environ.get("TONNE_REGISTRY_NAME", f"Tonne national registry ({TONNE_COUNTRY})")
TONNE_LEDGER_ORIGIN = os.environ.get("TONNE_LEDGER_ORIGIN", f"tonne.registry/{TONNE_COUNTRY.lower()}")
TONNE_LEDGER_KEY_NAME = os.environ.get("TONNE_LEDGER_KEY_NAME", f"tonne-{TONNE_COUNTRY.lower()}")
TONNE_LEDGER_KEY_FILE = Path(os.environ.get("TONNE_LEDGER_KEY_FILE", DATA_DIR / "keys" / "ledger-ed25519.pem"))
# The signed high-water mark kept outside the database (detects a restored, older ledger).
TONNE_CHECKPOINT_MARK_FILE = Path(os.environ.get("TONNE_CHECKPOINT_MARK_FILE", DATA_DIR / "checkpoint-mark.json"))
# A private key in the environment (PEM or base64 raw) wins over the file.
TONNE_LEDGER_KEY = os.environ.get("TONNE_LEDGER_KEY", "")
# Checkpoints are signed every N entries or T minutes (by `tonne worker`).
TONNE_CHECKPOINT_EVERY_ENTRIES = int(os.environ.get("TONNE_CHECKPOINT_EVERY_ENTRIES", "100"))
TONNE_CHECKPOINT_EVERY_MINUTES = int(os.environ.get("TONNE_CHECKPOINT_EVERY_MINUTES", "1"))
# Witnessing (C2SP tlog-witness): how often `tonne worker` cosigns the logs this
# installation witnesses and collects the cosignatures of its own checkpoints (0: never).
TONNE_WITNESS_EVERY_MINUTES = float(os.environ.get("TONNE_WITNESS_EVERY_MINUTES", "10"))
TONNE_DOCUMENTS_DIR = Path(os.environ.get("TONNE_DOCUMENTS_DIR", DATA_DIR / "documents"))
TONNE_MAX_DOCUMENT_BYTES = int(os.environ.get("TONNE_MAX_DOCUMENT_BYTES", str(50 * 1024 * 1024)))
TONNE_API_TOKEN_DAYS = int(os.environ.get("TONNE_API_TOKEN_DAYS", "90"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "tonne.core",
    "tonne.organisations",
    "tonne.projects",
    "tonne.methodologies",
    "tonne.mrv",
    "tonne.units",
    "tonne.ledger",
    "tonne.workspace",
    "tonne.cadt",
    "tonne.observer",
    "tonne.audit",
    "tonne.controls",
    "tonne.article6",
    "tonne.linkage",
    "tonne.access",
    "tonne.kyc",
    "tonne.aml",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "tonne.portal",
    "tonne.ops",
    "tonne.notifications",
]

MIDDLEWARE = [
    "tonne.core.outcomes.OutcomeMiddleware",
    "tonne.core.durability.DurableAnswersMiddleware",  # nothing read leaves before it is durable
    "django.middleware.security.SecurityMiddleware",
    "tonne.access.middleware.SecurityHeadersMiddleware",
    "tonne.core.training.TrainingHeaderMiddleware",  # a sandbox says so on every answer
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tonne.observer.middleware.ObserverModeMiddleware",
    "tonne.audit.middleware.AuditMiddleware",
    "tonne.access.middleware.SessionLimitsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tonne.access.middleware.MfaEnrolmentMiddleware",
    "tonne.cadt.middleware.CadtNodeMiddleware",
    "tonne.access.middleware.ApiRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tonne.urls"
WSGI_APPLICATION = "tonne.wsgi.application"
AUTH_USER_MODEL = "organisations.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tonne.core.training.context",
            ],
        },
    },
]


# SQLite however it is named (the default path or DATABASE_URL=sqlite:///…):
# IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of
# failing with "database is locked" mid-transaction; WAL lets readers go on.
# FULL: a commit survives a power loss; NORMAL is faster but may lose the last commits.
TONNE_SQLITE_SYNCHRONOUS = os.environ.get("TONNE_SQLITE_SYNCHRONOUS", "FULL").upper()
if TONNE_SQLITE_SYNCHRONOUS not in ("OFF", "NORMAL", "FULL", "EXTRA"):
    raise ImproperlyConfigured("TONNE_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
SQLITE_OPTIONS: dict[str, Any] = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + TONNE_SQLITE_SYNCHRONOUS + "; "
        "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;"
    ),
}


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        db: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=int(os.environ.get("TONNE_DB_CONN_MAX_AGE", "60"))))
        if db["ENGINE"].endswith("postgresql"):
            db.setdefault("TEST", {})["NAME"] = os.environ.get("TONNE_TEST_DATABASE", f"test_{db['NAME']}")
        if db["ENGINE"].endswith("sqlite3"):
            db["OPTIONS"] = {**SQLITE_OPTIONS, **(db.get("OPTIONS") or {})}
        return db
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TONNE_SQLITE_PATH", str(DATA_DIR / "tonne.sqlite3")),
        "OPTIONS": dict(SQLITE_OPTIONS),
        "TEST": {"NAME": os.environ.get("TONNE_SQLITE_TEST_PATH", "")},
    }


DATABASES = {"default": _database()}

# -- reads on PostgreSQL streaming replicas (tonne.core.replicas, docs/scaling.md) --
# Comma-separated URLs of hot standbys of DATABASE_URL; public reads may go there.
DATABASE_REPLICA_URLS = [u.strip() for u in os.environ.get("DATABASE_REPLICA_URLS", "").split(",") if u.strip()]
TONNE_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("TONNE_REPLICA_MAX_LAG_SECONDS", "5"))
TONNE_REPLICA_CHECK_SECONDS = float(os.environ.get("TONNE_REPLICA_CHECK_SECONDS", "1"))
# A browser's reads stay on the primary this long after its own change (at least lag limit + check interval).
TONNE_REPLICA_READ_YOUR_WRITES_SECONDS = float(os.environ.get("TONNE_REPLICA_READ_YOUR_WRITES_SECONDS", "0"))
# Where reads may go to a replica: GET/HEAD of public pages ("/" is the home page only), /cadt/, the API.
TONNE_REPLICA_READ_PATHS = tuple(p.strip() for p in os.environ.get(
    "TONNE_REPLICA_READ_PATHS",
    "/,/projects/,/serials/,/methodologies/,/certificates/,/issuances/,/retirements/,/cancellations/,"
    "/dashboard/,/ledger/,/cadt/,/api/v1/",
).split(",") if p.strip())
TONNE_REPLICA_HEADER = _env_bool("TONNE_REPLICA_HEADER", False)  # X-Tonne-Read-From on answers (tests, diagnosis)
for _number, _url in enumerate(DATABASE_REPLICA_URLS, 1):
    if not (_url.startswith("postgres") and DATABASES["default"]["ENGINE"].endswith("postgresql")):
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS: replicas are PostgreSQL standbys of a PostgreSQL DATABASE_URL")
    DATABASES[f"replica_{_number}"] = {
        **dj_database_url.parse(_url, conn_max_age=int(os.environ.get("TONNE_DB_CONN_MAX_AGE", "60")), conn_health_checks=True),
        "OPTIONS": {"connect_timeout": 2},
        "TEST": {"MIRROR": "default"},
    }
if DATABASE_REPLICA_URLS:
    DATABASE_ROUTERS = ["tonne.core.replicas.ReplicaRouter"]
    MIDDLEWARE.append("tonne.core.replicas.ReplicaReadsMiddleware")  # innermost: only the view reads there
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Every page, form, message and error exists in these languages.
LANGUAGES = [("en", "English"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# English times on a 24-hour clock (tonne/formats/en): never "1:35 p.m.." at the end of a sentence.
FORMAT_MODULE_PATH = ["tonne.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Cookies: Secure (and __Host- names) when the operator says the registry is
# only reached over TLS (TONNE_SECURE_COOKIES, on by default behind the TLS
# proxy); otherwise every cookie set on a request that came over TLS is still
# marked Secure (access.middleware), and the plain-HTTP demo keeps working.
SESSION_COOKIE_SECURE = _env_bool("TONNE_SECURE_COOKIES", _env_bool("TONNE_BEHIND_TLS_PROXY", False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = TONNE_MAX_DOCUMENT_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TONNE_LOG_LEVEL", "WARNING")},
}

# -- security: audit, transaction controls, sessions (each configurable per country) --
TONNE_USE_X_FORWARDED_FOR = _env_bool("TONNE_USE_X_FORWARDED_FOR", False)
# Outgoing requests (webhooks, CAD Trust nodes, picklists) reach only public
# addresses, plus these hosts or networks (comma-separated, e.g. "10.0.5.0/24,node.internal").
TONNE_OUTBOUND_ALLOW = tuple(h.strip() for h in os.environ.get("TONNE_OUTBOUND_ALLOW", "").split(",") if h.strip())
# With no mail server named, e-mails (password resets...) are written to the
# server's log (console backend) rather than sent nowhere.
EMAIL_BACKEND = os.environ.get(
    "TONNE_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if os.environ.get("TONNE_EMAIL_HOST") else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("TONNE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("TONNE_EMAIL_PORT", "25"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("TONNE_EMAIL_FROM", "registry@localhost")


def _env_set(name: str, default: str) -> frozenset[str]:
    return frozenset(p.strip() for p in os.environ.get(name, default).split(",") if p.strip())


# Four-eyes: what needs a second person (issuance, transfer, retirement,
# cancellation, reversal, export, import, trusted_list — trusted accounts and
# destinations —, limits, representatives); approvals expire. Article 6 uses
# are retirements or cancellations.
TONNE_FOUR_EYES = _env_set(
    "TONNE_FOUR_EYES", "issuance,transfer,retirement,cancellation,reversal,export,import,trusted_list,limits,representatives"
)
# The registry administrator approves each VVB verification before its units are issued.
TONNE_VERIFICATION_APPROVAL = _env_bool("TONNE_VERIFICATION_APPROVAL", False)
TONNE_APPROVAL_HOURS = int(os.environ.get("TONNE_APPROVAL_HOURS", "72"))
# Transfers to accounts not on the trusted list settle at noon of the Nth working day.
TONNE_DELAY_NON_TRUSTED = _env_bool("TONNE_DELAY_NON_TRUSTED", True)
TONNE_SETTLEMENT_WORKING_DAYS = int(os.environ.get("TONNE_SETTLEMENT_WORKING_DAYS", "1"))
TONNE_TRUSTED_DELAY_WORKING_DAYS = int(os.environ.get("TONNE_TRUSTED_DELAY_WORKING_DAYS", "4"))
TONNE_TRUST_OWN_ACCOUNTS = _env_bool("TONNE_TRUST_OWN_ACCOUNTS", True)
# Article 6 exports go only to destinations (registry, account) on the exporting account's trusted list.
TONNE_EXPORT_TRUSTED_ONLY = _env_bool("TONNE_EXPORT_TRUSTED_ONLY", True)
# A new authorised representative approves nothing, and a holder's new account
# is not trusted as its own, until noon of the Nth working day (0: at once).
TONNE_REPRESENTATIVE_DELAY_WORKING_DAYS = int(
    os.environ.get("TONNE_REPRESENTATIVE_DELAY_WORKING_DAYS", str(TONNE_TRUSTED_DELAY_WORKING_DAYS))
)
TONNE_NEW_ACCOUNT_TRUST_WORKING_DAYS = int(
    os.environ.get("TONNE_NEW_ACCOUNT_TRUST_WORKING_DAYS", str(TONNE_TRUSTED_DELAY_WORKING_DAYS))
)
# Who approves a holder's nomination of a representative: "administrator"
# (the registry administrator, as the EU Union Registry does) or "holder"
# (also another representative of the holder). Never the person who asked.
TONNE_REPRESENTATIVES_APPROVED_BY = os.environ.get("TONNE_REPRESENTATIVES_APPROVED_BY", "administrator")
# The most serial ranges one transfer, retirement or cancellation may name.
TONNE_MAX_RANGES_PER_REQUEST = int(os.environ.get("TONNE_MAX_RANGES_PER_REQUEST", "100"))
# The most moves one batch request (POST /api/v1/transfers/batch, /retirements/batch) may carry.
TONNE_MAX_BATCH_ITEMS = int(os.environ.get("TONNE_MAX_BATCH_ITEMS", "200"))
TONNE_CALENDAR_TIMEZONE = os.environ.get("TONNE_CALENDAR_TIMEZONE", "UTC")
TONNE_HOLIDAYS = frozenset(
    datetime.date.fromisoformat(d) for d in _env_set("TONNE_HOLIDAYS", "")
)
TONNE_WEEKEND = frozenset(
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(d[:3].lower()) for d in _env_set("TONNE_WEEKEND", "sat,sun")
)
# The one module that lists who handles what a lower layer decides (tonne/wiring.py).
TONNE_WIRING = "tonne.wiring"
# Registry-wide default limits (0: none); holders set tighter ones per account.
TONNE_MAX_TRANSFER_QUANTITY = int(os.environ.get("TONNE_MAX_TRANSFER_QUANTITY", "0"))
TONNE_MAX_DAILY_QUANTITY = int(os.environ.get("TONNE_MAX_DAILY_QUANTITY", "0"))
TONNE_FREEZE_MAX_DAYS = int(os.environ.get("TONNE_FREEZE_MAX_DAYS", "28"))
# Article 6: unit classes that carry share of proceeds and OMGE at issuance, and their rates.
# A6.4ERs (the Article 6.4 mechanism's units) carry them by rule (decision 3/CMA.3 annex).
TONNE_SOP_OMGE_UNIT_CLASSES = _env_set("TONNE_SOP_OMGE_UNIT_CLASSES", "A6.4ER")
TONNE_SOP_BASIS_POINTS = int(os.environ.get("TONNE_SOP_BASIS_POINTS", "500"))
TONNE_OMGE_BASIS_POINTS = int(os.environ.get("TONNE_OMGE_BASIS_POINTS", "200"))
TONNE_ARTICLE6_REGISTRY_ID = os.environ.get("TONNE_ARTICLE6_REGISTRY_ID", f"{TONNE_COUNTRY}-TONNE")
# Linkage (docs/linkage.md): a proposal not accepted within this many hours
# is withdrawn and its units go back; the worker asks a partner for its
# decision every TONNE_LINKAGE_POLL_SECONDS and retries failures with backoff.
TONNE_LINKAGE_TIMEOUT_HOURS = int(os.environ.get("TONNE_LINKAGE_TIMEOUT_HOURS", "72"))
TONNE_LINKAGE_POLL_SECONDS = int(os.environ.get("TONNE_LINKAGE_POLL_SECONDS", "30"))
# Every TONNE_LINKAGE_RECONCILE_HOURS the worker sends each active partner a
# reconciliation statement (docs/linkage.md §3.6); 0: only on demand.
TONNE_LINKAGE_RECONCILE_HOURS = int(os.environ.get("TONNE_LINKAGE_RECONCILE_HOURS", "24"))

# -- sign-in (django-allauth), second factors, sessions, rate limits, headers --
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "tonne.access.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
# Lockout: failed sign-ins per username and per address (allauth's rate limits).
ACCOUNT_RATE_LIMITS = {
    "login_failed": os.environ.get("TONNE_LOGIN_FAILURES", "5/15m/key,20/m/ip"),
    "login": os.environ.get("TONNE_LOGIN_RATE", "30/m/ip"),
}
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = TONNE_REGISTRY_NAME
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Every person who can move units or approve must have a second factor; moving
# units from a browser session needs one confirmed within the step-up window.
TONNE_MFA_REQUIRED = _env_bool("TONNE_MFA_REQUIRED", True)
# Organisation applications (the API's only anonymous write; each is screened) per address an hour.
TONNE_ANONYMOUS_WRITES_PER_HOUR = int(os.environ.get("TONNE_ANONYMOUS_WRITES_PER_HOUR", "10"))
TONNE_STEP_UP_MINUTES = int(os.environ.get("TONNE_STEP_UP_MINUTES", "15"))
ACCOUNT_REAUTHENTICATION_TIMEOUT = TONNE_STEP_UP_MINUTES * 60
TONNE_SESSION_IDLE_MINUTES = int(os.environ.get("TONNE_SESSION_IDLE_MINUTES", "30"))
TONNE_SESSION_MAX_HOURS = int(os.environ.get("TONNE_SESSION_MAX_HOURS", "12"))
SESSION_COOKIE_AGE = TONNE_SESSION_MAX_HOURS * 3600
TONNE_API_RATE_PER_MINUTE = int(os.environ.get("TONNE_API_RATE_PER_MINUTE", "600"))
TONNE_API_WRITE_RATE_PER_MINUTE = int(os.environ.get("TONNE_API_WRITE_RATE_PER_MINUTE", "120"))
TONNE_AUTH_FAILURES_PER_HOUR = int(os.environ.get("TONNE_AUTH_FAILURES_PER_HOUR", "30"))
# Paths under the API rate limits: the registry's API and the public CAD Trust read API.
TONNE_RATE_LIMITED_PATHS = ("/api/", "/cadt/")
# Anonymous writes that are signed by a partner registry's key (docs/linkage.md):
# not counted as a visitor's, only by the per-minute rates.
TONNE_SIGNED_MESSAGE_PATHS = ("/api/v1/linkage/messages", "/api/v1/linkage/check", "/api/v1/linkage/statements")
# This registry's public address: CAD Trust requires a link on every project and unit,
# and a record without its own link gets its public page here.
TONNE_PUBLIC_URL = os.environ.get("TONNE_PUBLIC_URL", "http://localhost:8000").rstrip("/")
# Origins whose pages may read the CAD Trust API (/cadt/) from a browser, comma-separated; * any.
TONNE_CADT_CORS_ORIGINS = _env_set("TONNE_CADT_CORS_ORIGINS", "*")
# HSTS is sent on TLS requests only (Django's SecurityMiddleware).
SECURE_HSTS_SECONDS = int(os.environ.get("TONNE_HSTS_SECONDS", str(365 * 86400)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("TONNE_HSTS_SUBDOMAINS", False)
SECURE_REFERRER_POLICY = "same-origin"
if _env_bool("TONNE_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if SESSION_COOKIE_SECURE:
    # Bound to this host over TLS only.
    SESSION_COOKIE_NAME = "__Host-tonne_session"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# -- KYC and sanctions screening --
TONNE_KYC_REQUIRED = _env_bool("TONNE_KYC_REQUIRED", True)  # transfers out need a verified KYC record
TONNE_KYC_REVIEW_DAYS = int(os.environ.get("TONNE_KYC_REVIEW_DAYS", "365"))
TONNE_MIN_REPRESENTATIVES = int(os.environ.get("TONNE_MIN_REPRESENTATIVES", "2"))
TONNE_SANCTIONS_THRESHOLD = int(os.environ.get("TONNE_SANCTIONS_THRESHOLD", "88"))  # 0..100 name similarity
TONNE_KYC_DIR = Path(os.environ.get("TONNE_KYC_DIR", DATA_DIR / "kyc"))
TONNE_KYC_KEY = os.environ.get("TONNE_KYC_KEY", "")  # base64 of 32 bytes; otherwise a key file made at first use
TONNE_KYC_KEY_FILE = Path(os.environ.get("TONNE_KYC_KEY_FILE", DATA_DIR / "keys" / "kyc-aes256.key"))

# -- AML monitoring (thresholds per country; rules in TONNE_AML_HOLD put the account on hold) --
TONNE_AML_PASS_THROUGH_HOURS = int(os.environ.get("TONNE_AML_PASS_THROUGH_HOURS", "48"))
TONNE_AML_PASS_THROUGH_MIN = int(os.environ.get("TONNE_AML_PASS_THROUGH_MIN", "1000"))
TONNE_AML_PASS_THROUGH_PERCENT = int(os.environ.get("TONNE_AML_PASS_THROUGH_PERCENT", "90"))
TONNE_AML_CIRCULAR_DAYS = int(os.environ.get("TONNE_AML_CIRCULAR_DAYS", "30"))
TONNE_AML_NEW_ACCOUNT_DAYS = int(os.environ.get("TONNE_AML_NEW_ACCOUNT_DAYS", "30"))
TONNE_AML_NEW_ACCOUNT_TRANSFERS = int(os.environ.get("TONNE_AML_NEW_ACCOUNT_TRANSFERS", "5"))
TONNE_AML_NEW_ACCOUNT_QUANTITY = int(os.environ.get("TONNE_AML_NEW_ACCOUNT_QUANTITY", "50000"))
TONNE_AML_DRAIN_HOURS = int(os.environ.get("TONNE_AML_DRAIN_HOURS", "72"))
TONNE_AML_DRAIN_PERCENT = int(os.environ.get("TONNE_AML_DRAIN_PERCENT", "80"))
TONNE_AML_STRUCTURING_PERCENT = int(os.environ.get("TONNE_AML_STRUCTURING_PERCENT", "90"))
TONNE_AML_STRUCTURING_COUNT = int(os.environ.get("TONNE_AML_STRUCTURING_COUNT", "3"))
TONNE_AML_ISSUANCE_FACTOR = float(os.environ.get("TONNE_AML_ISSUANCE_FACTOR", "2.0"))
TONNE_AML_HOLD_RULES = _env_set("TONNE_AML_HOLD", "change_then_drain,new_account_velocity")
