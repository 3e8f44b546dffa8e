"""Tonne settings, read from the environment.

DATABASE_URL selects the database (PostgreSQL in production); without it the
registry runs on SQLite in WAL mode inside TONNE_DATA_DIR.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url

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
TONNE_REGISTRY_NAME = os.environ.get("TONNE_REGISTRY_NAME", f"Tonne national registry ({TONNE_COUNTRY})")
TONNE_LEDGER_ORIGIN = os.environ.get("TONNE_LEDGER_ORIGIN", f"tonne.registry/{TONNE_COUNTRY.lower()}")
TONNE_LEDGER_KEY_NAME = os.environ.get("TONNE_LEDGER_KEY_NAME", f"tonne-{TONNE_COUNTRY.lower()}")
TONNE_LEDGER_KEY_FILE = Path(os.environ.get("TONNE_LEDGER_KEY_FILE", DATA_DIR / "keys" / "ledger-ed25519.pem"))
# A private key in the environment (PEM or base64 raw) wins over the file.
TONNE_LEDGER_KEY = os.environ.get("TONNE_LEDGER_KEY", "")
# Checkpoints are signed every N entries or T minutes (by `tonne worker`).
TONNE_CHECKPOINT_EVERY_ENTRIES = int(os.environ.get("TONNE_CHECKPOINT_EVERY_ENTRIES", "100"))
TONNE_CHECKPOINT_EVERY_MINUTES = int(os.environ.get("TONNE_CHECKPOINT_EVERY_MINUTES", "1"))
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
    "tonne.mrv",
    "tonne.units",
    "tonne.ledger",
    "tonne.workspace",
    "tonne.cadt",
    "tonne.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        db = dj_database_url.parse(url, conn_max_age=int(os.environ.get("TONNE_DB_CONN_MAX_AGE", "60")))
        if db["ENGINE"].endswith("postgresql"):
            db.setdefault("TEST", {})["NAME"] = os.environ.get("TONNE_TEST_DATABASE", "test_tonne")
        return dict(db)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TONNE_SQLITE_PATH", str(DATA_DIR / "tonne.sqlite3")),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue
            # instead of failing with "database is locked" mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;"
            ),
        },
        "TEST": {"NAME": os.environ.get("TONNE_SQLITE_TEST_PATH", "")},
    }


DATABASES = {"default": _database()}
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
SESSION_COOKIE_SECURE = _env_bool("TONNE_SECURE_COOKIES", False)
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
