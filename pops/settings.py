"""Settings from POPS_* environment variables."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from .crash import POINTS as CRASH_POINTS

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent


def _shipped(name: str) -> Path:
    """templates/ or static/: inside the installed package, else at the top of the checkout."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else ROOT / name


TEMPLATES_DIR = _shipped("templates")
STATIC_DIR = _shipped("static")


class SettingsError(Exception):
    """A setting is missing or wrong; the message says how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/pops.sqlite3"
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    environment: str = "production"
    data_dir: Path = Path("var")
    staff_idle_minutes: int = 15
    session_max_hours: int = 12
    smtp_url: str | None = None
    mail_from: str = "POPS <no-reply@pops.invalid>"
    sms_url: str | None = None  # the SMS provider adapter's endpoint (JSON POST)
    sms_token: str | None = None
    sms_provider: str = "generic"  # POPS_SMS_PROVIDER: how POST /sms/inbound checks a reply (generic or twilio)
    crash_at: str | None = None  # tests only (POPS_CRASH_AT): where the server kills itself (pops.crash)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)  # addresses (or networks, or "*") whose X-Forwarded-* count
    db_pool: int = 10  # PostgreSQL connections per process, and the cap on its request threads
    access_log: bool = False  # POPS_ACCESS_LOG=1: `pops serve` logs a line per request (off: the proxy in front logs)
    now: dt.datetime | None = None  # rehearsals only (POPS_NOW): the instant pops.clock starts from
    gateway: str = "sandbox"  # POPS_GATEWAY: sandbox or stripe; "" when production named none (refused at start-up)
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None  # tests only: a Stripe-compatible test server instead of Stripe's own
    stripe_test_origins: tuple[str, ...] = ()  # tests only: the test server's pages, allowed as form targets

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        defaults = cls()
        try:
            staff_idle = int(env.get("POPS_STAFF_IDLE_MINUTES", defaults.staff_idle_minutes))
        except ValueError as exc:
            raise SettingsError("POPS_STAFF_IDLE_MINUTES must be a whole number of minutes") from exc
        try:
            db_pool = int(env.get("POPS_DB_POOL", defaults.db_pool))
        except ValueError:
            db_pool = 0
        if db_pool < 1:
            raise SettingsError("POPS_DB_POOL must be a whole number of connections, 1 or more")
        environment = env.get("POPS_ENV", defaults.environment).strip().lower()
        if environment not in {"production", "development", "test"}:
            raise SettingsError("POPS_ENV must be production, development or test")
        crash_at = env.get("POPS_CRASH_AT") or None
        if crash_at is not None and (environment != "test" or crash_at not in CRASH_POINTS):
            raise SettingsError("POPS_CRASH_AT is for the crash tests only: it needs POPS_ENV=test and one of "
                                + ", ".join(CRASH_POINTS))
        now = rehearsal_now(env.get("POPS_NOW") or None, environment)
        return cls(
            database_url=env.get("POPS_DATABASE_URL") or defaults.database_url,
            secret_key=env.get("POPS_SECRET_KEY") or None,
            base_url=(env.get("POPS_BASE_URL") or defaults.base_url).rstrip("/"),
            environment=environment,
            data_dir=Path(env.get("POPS_DATA_DIR") or defaults.data_dir),
            staff_idle_minutes=staff_idle,
            smtp_url=env.get("POPS_SMTP_URL") or None,
            mail_from=env.get("POPS_MAIL_FROM") or defaults.mail_from,
            sms_url=env.get("POPS_SMS_URL") or None,
            sms_token=env.get("POPS_SMS_TOKEN") or None,
            sms_provider=sms_provider(env.get("POPS_SMS_PROVIDER", "")),
            crash_at=crash_at,
            trusted_proxies=trusted_proxies(env.get("POPS_TRUSTED_PROXIES", ",".join(defaults.trusted_proxies))),
            db_pool=db_pool,
            access_log=yes_or_no(env.get("POPS_ACCESS_LOG", ""), "POPS_ACCESS_LOG"),
            now=now,
            gateway=chosen_gateway(env.get("POPS_GATEWAY", ""), environment),
            stripe_secret_key=env.get("POPS_STRIPE_SECRET_KEY") or None,
            stripe_webhook_secret=env.get("POPS_STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_base=(env.get("POPS_STRIPE_API_BASE") or "").rstrip("/") or None,
            stripe_test_origins=tuple(o.strip().rstrip("/") for o in env.get("POPS_STRIPE_TEST_ORIGINS", "").split(",")
                                      if o.strip()),
        )

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def with_secret(self) -> "Settings":
        """These settings with a usable secret key, or a SettingsError in production.

        Outside production a secret is generated once and kept under the data directory,
        so sessions and links survive a restart of the demo.
        """
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise SettingsError("POPS_SECRET_KEY is too short: use at least 32 random characters")
            return self
        if self.environment == "production":
            raise SettingsError(
                "POPS_SECRET_KEY is not set. Set it to a long random value, for example:\n"
                "  export POPS_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')\n"
                "(or set POPS_ENV=development to let POPS generate and keep one for a trial)"
            )
        return replace(self, secret_key=kept_secret(self.data_dir))


def chosen_gateway(text: str, environment: str) -> str:
    """POPS_GATEWAY: sandbox (the default outside production) or stripe; production must name one."""
    name = text.strip().lower()
    if name not in {"", "sandbox", "stripe"}:
        raise SettingsError(f"POPS_GATEWAY must be sandbox or stripe, not {text!r}")
    return name or ("" if environment == "production" else "sandbox")


def sms_provider(text: str) -> str:
    """POPS_SMS_PROVIDER: generic (the default: JSON and X-POPS-Signature) or twilio (X-Twilio-Signature)."""
    name = text.strip().lower() or "generic"
    if name not in {"generic", "twilio"}:
        raise SettingsError(f"POPS_SMS_PROVIDER must be generic or twilio, not {text!r}")
    return name


def yes_or_no(text: str, name: str) -> bool:
    """A switch: 1, true, yes or on; 0, false, no, off or unset."""
    word = text.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"", "0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be 1 (on) or 0 (off), not {text!r}")


def trusted_proxies(text: str) -> tuple[str, ...]:
    """POPS_TRUSTED_PROXIES: comma-separated IP addresses or networks (10.0.0.0/8), or "*" for any."""
    entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
    for entry in (e for e in entries if e != "*"):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise SettingsError(f"POPS_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from exc
    return entries


def rehearsal_now(text: str | None, environment: str) -> dt.datetime | None:
    """POPS_NOW: an ISO 8601 instant with its offset or Z (2027-03-01T15:00:00Z), outside production only."""
    if text is None:
        return None
    if environment == "production":
        raise SettingsError("POPS_NOW is for rehearsals only: production runs on the real clock. "
                            "Unset POPS_NOW, or set POPS_ENV=development or test")
    try:
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise SettingsError(f"POPS_NOW: {text!r} is not an ISO 8601 instant such as 2027-03-01T15:00:00Z") from exc
    if at.tzinfo is None:
        raise SettingsError(f"POPS_NOW: {text!r} has no time zone; end it with Z (UTC) or an offset such as -06:00")
    return at.astimezone(dt.timezone.utc)


def kept_secret(data_dir: Path) -> str:
    """The secret kept in DATA_DIR/secret-key, created on first use (readable by the owner only)."""
    path = data_dir / "secret-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
