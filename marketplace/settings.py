"""Settings read from environment variables, one dataclass section per concern."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class ConfigurationError(RuntimeError):
    """Settings that would make the service unsafe or unable to start."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
    for part in parts:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError as exc:
            raise ConfigurationError(f"{name}: {part!r} is not an IP address or network") from exc
    return parts


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from exc


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


@dataclass(frozen=True)
class AppSettings:
    env: str = "development"
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    debug: bool = False
    #: Basis points of the creator's fee the brand pays on top as PostPact's fee.
    platform_fee_bps: int = 800
    #: Proxies (addresses or networks) whose X-Forwarded-Proto/-For are believed: HTTPS detection for Secure
    #: cookies, and the client address rate limits are keyed by.
    trusted_proxies: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_test(self) -> bool:
        return self.env == "test"


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = f"sqlite+aiosqlite:///{VAR_DIR / 'postpact.db'}"
    echo: bool = False
    pool_size: int = 10

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")


@dataclass(frozen=True)
class RedisSettings:
    url: str | None = None


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str | None = None
    #: The publishable key Stripe.js needs on the brand's payment page.
    publishable_key: str | None = None
    webhook_secret: str | None = None
    #: Overridable so tests (and staging) can point the official SDK at local Stripe-compatible servers.
    api_base: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.secret_key)


@dataclass(frozen=True)
class EmailSettings:
    smtp_url: str | None = None
    from_address: str = "PostPact <no-reply@postpact.local>"


@dataclass(frozen=True)
class VerificationSettings:
    tiktok_oembed_url: str = "https://www.tiktok.com/oembed"
    youtube_oembed_url: str = "https://www.youtube.com/oembed"
    instagram_oembed_url: str = "https://graph.facebook.com/v22.0/instagram_oembed"
    instagram_app_token: str | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class DisputeSettings:
    #: How long the other side of a dispute has to give its side; after that the admin decides with what they have.
    response_days: int = 5

    @property
    def response_window(self) -> timedelta:
        return timedelta(days=self.response_days)


@dataclass(frozen=True)
class StoresSettings:
    """Connected shops (Shopify, WooCommerce, custom)."""

    #: Fernet keys for store secrets, newest first (older ones still decrypt, so keys rotate); empty: one derived
    #: from SECRET_KEY.
    encryption_keys: tuple[str, ...] = ()
    #: The Shopify Admin API version every call pins (Shopify supports each for a year).
    shopify_api_version: str = "2025-10"
    #: Largest webhook body accepted; Shopify and WooCommerce payloads are a few kilobytes.
    webhook_max_bytes: int = 2 * 1024 * 1024
    timeout_seconds: float = 10.0
    #: Lets a store's address be plain http://host:port (local stand-ins); refused in production.
    allow_http: bool = False
    #: Lets a store's address resolve to a private, loopback or link-local address (local stand-ins in tests and
    #: development only); refused in production.
    allow_private_hosts: bool = False
    #: Offers the built-in simulated store (in-process, no outside calls): on in development and test, off in
    #: production unless STORES_SIMULATED=1.
    simulated: bool = True


@dataclass(frozen=True)
class SocialPlatformSettings:
    """One platform's OAuth app and endpoints; without a client id and secret the platform isn't offered."""

    client_id: str | None = None
    client_secret: str | None = None
    authorize_url: str = ""
    token_url: str = ""
    #: Empty where the platform has no revocation endpoint (Instagram: people remove the app in their settings).
    revoke_url: str = ""
    api_base: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.client_id and self.client_secret)


#: The platforms' own endpoints; each is overridable (``TIKTOK_TOKEN_URL`` ...) so tests use local stand-ins.
SOCIAL_DEFAULTS: dict[str, dict[str, str]] = {
    "instagram": {
        "authorize_url": "https://www.instagram.com/oauth/authorize",
        "token_url": "https://api.instagram.com/oauth/access_token",
        "revoke_url": "",
        "api_base": "https://graph.instagram.com",
    },
    "tiktok": {
        "authorize_url": "https://www.tiktok.com/v2/auth/authorize/",
        "token_url": "https://open.tiktokapis.com/v2/oauth/token/",
        "revoke_url": "https://open.tiktokapis.com/v2/oauth/revoke/",
        "api_base": "https://open.tiktokapis.com",
    },
    "youtube": {
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revoke_url": "https://oauth2.googleapis.com/revoke",
        "api_base": "https://www.googleapis.com",
    },
}


@dataclass(frozen=True)
class SocialSettings:
    """Connected creator accounts (verified audience, posts read from the account, metrics after publishing)."""

    instagram: SocialPlatformSettings = field(default_factory=SocialPlatformSettings)
    tiktok: SocialPlatformSettings = field(default_factory=SocialPlatformSettings)
    youtube: SocialPlatformSettings = field(default_factory=SocialPlatformSettings)
    timeout_seconds: float = 10.0

    def platform(self, name: str) -> SocialPlatformSettings:
        return {"instagram": self.instagram, "tiktok": self.tiktok, "youtube": self.youtube}[name]

    @property
    def offered(self) -> list[str]:
        return [name for name in ("instagram", "tiktok", "youtube") if self.platform(name).enabled]


def _social_platform(env: Mapping[str, str], name: str) -> SocialPlatformSettings:
    prefix = name.upper()
    urls = {key: (env.get(f"{prefix}_{key.upper()}") or default).strip()
            for key, default in SOCIAL_DEFAULTS[name].items()}
    return SocialPlatformSettings(client_id=env.get(f"{prefix}_CLIENT_ID") or None,
                                  client_secret=env.get(f"{prefix}_CLIENT_SECRET") or None, **urls)


@dataclass(frozen=True)
class StorageSettings:
    var_dir: Path = VAR_DIR
    max_upload_bytes: int = 25 * 1024 * 1024
    #: Where marketplace pictures (photos, logos, product images, portfolios) live: "local" (files under var/media)
    #: or "s3" (any S3-compatible object storage, so several web machines share them). See marketplace.storage.
    backend: str = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = field(default=None, repr=False)
    #: Set: pictures are linked there directly (a CDN or a public bucket); unset: PostPact serves them at /media/.
    media_public_url: str | None = None
    #: Largest picture accepted, before resizing.
    max_image_bytes: int = 10 * 1024 * 1024

    @property
    def media_dir(self) -> Path:
        return self.var_dir / "media"

    @property
    def upload_dir(self) -> Path:
        return self.var_dir / "uploads"

    @property
    def session_dir(self) -> Path:
        return self.var_dir / "sessions"


@dataclass(frozen=True)
class Settings:
    app: AppSettings = field(default_factory=AppSettings)
    db: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    stripe: StripeSettings = field(default_factory=StripeSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    verification: VerificationSettings = field(default_factory=VerificationSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    disputes: DisputeSettings = field(default_factory=DisputeSettings)
    stores: StoresSettings = field(default_factory=StoresSettings)
    social: SocialSettings = field(default_factory=SocialSettings)

    @property
    def runs_tasks_in_process(self) -> bool:
        """Without Redis there is no broker: the embedded default runs jobs inside the web process."""
        return self.redis.url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        app_env = env.get("POSTPACT_ENV", "development").strip().lower() or "development"
        if app_env not in {"development", "test", "production"}:
            raise ConfigurationError(f"POSTPACT_ENV must be development, test or production, got {app_env!r}")
        secret = env.get("SECRET_KEY", "")
        var_dir = Path(env["POSTPACT_VAR_DIR"]) if env.get("POSTPACT_VAR_DIR") else VAR_DIR
        db_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'postpact.db'}"
        settings = cls(
            app=AppSettings(
                env=app_env,
                secret_key=secret,
                public_url=env.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
                debug=_bool(env.get("DEBUG")),
                platform_fee_bps=_int(env, "PLATFORM_FEE_BPS", 800),
                trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            ),
            db=DatabaseSettings(
                url=normalise_database_url(db_url),
                echo=_bool(env.get("DATABASE_ECHO")),
                pool_size=_int(env, "DATABASE_POOL_SIZE", 10),
            ),
            redis=RedisSettings(url=env.get("REDIS_URL") or None),
            stripe=StripeSettings(
                secret_key=env.get("STRIPE_SECRET_KEY") or None,
                publishable_key=env.get("STRIPE_PUBLISHABLE_KEY") or None,
                webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
                api_base=env.get("STRIPE_API_BASE") or None,
            ),
            email=EmailSettings(
                smtp_url=env.get("SMTP_URL") or None,
                from_address=env.get("MAIL_FROM", "PostPact <no-reply@postpact.local>"),
            ),
            verification=VerificationSettings(
                tiktok_oembed_url=env.get("TIKTOK_OEMBED_URL", "https://www.tiktok.com/oembed"),
                youtube_oembed_url=env.get("YOUTUBE_OEMBED_URL", "https://www.youtube.com/oembed"),
                instagram_oembed_url=env.get(
                    "INSTAGRAM_OEMBED_URL", "https://graph.facebook.com/v22.0/instagram_oembed"
                ),
                instagram_app_token=env.get("INSTAGRAM_APP_TOKEN") or None,
            ),
            storage=StorageSettings(
                var_dir=var_dir,
                backend=(env.get("STORAGE_BACKEND") or "local").strip().lower(),
                s3_bucket=env.get("S3_BUCKET") or None,
                s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
                s3_region=env.get("S3_REGION") or "us-east-1",
                s3_access_key_id=env.get("S3_ACCESS_KEY_ID") or None,
                s3_secret_access_key=env.get("S3_SECRET_ACCESS_KEY") or None,
                media_public_url=(env.get("MEDIA_PUBLIC_URL") or "").rstrip("/") or None,
            ),
            disputes=DisputeSettings(response_days=_int(env, "DISPUTE_RESPONSE_DAYS", 5)),
            stores=StoresSettings(
                encryption_keys=tuple(k.strip() for k in env.get("STORES_ENCRYPTION_KEYS", "").split(",") if k.strip()),
                shopify_api_version=env.get("SHOPIFY_API_VERSION", "2025-10").strip() or "2025-10",
                webhook_max_bytes=_int(env, "STORES_WEBHOOK_MAX_BYTES", 2 * 1024 * 1024),
                allow_http=_bool(env.get("STORES_ALLOW_HTTP")),
                allow_private_hosts=_bool(env.get("STORES_ALLOW_PRIVATE_HOSTS")),
                simulated=_bool(env.get("STORES_SIMULATED"), app_env != "production"),
            ),
            social=SocialSettings(**{name: _social_platform(env, name) for name in SOCIAL_DEFAULTS}),
        )
        if settings.storage.backend not in {"local", "s3"}:
            raise ConfigurationError(f"STORAGE_BACKEND must be local or s3, got {settings.storage.backend!r}")
        if settings.storage.backend == "s3" and not settings.storage.s3_bucket:
            raise ConfigurationError("STORAGE_BACKEND=s3 needs S3_BUCKET (and S3_ENDPOINT_URL for non-AWS storage)")
        if not 1 <= settings.disputes.response_days <= 30:
            raise ConfigurationError(
                f"DISPUTE_RESPONSE_DAYS must be between 1 and 30, got {settings.disputes.response_days}")
        return settings.validated()

    def validated(self) -> Settings:
        """Refuse settings that are unsafe in production; fill development defaults otherwise."""
        if self.app.is_production:
            problems = []
            if not self.app.secret_key:
                problems.append(
                    "SECRET_KEY is not set (use a long random value, e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)"
                )
            elif len(self.app.secret_key) < 32:
                problems.append("SECRET_KEY is shorter than 32 characters")
            if self.db.is_sqlite:
                problems.append(
                    "DATABASE_URL points at SQLite; production needs PostgreSQL (postgresql://user:pass@host/db)"
                )
            if self.stripe.enabled and not self.stripe.webhook_secret:
                problems.append("STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set")
            if self.stores.allow_http:
                problems.append("STORES_ALLOW_HTTP is for local stand-ins; store secrets must travel over https")
            if self.stores.allow_private_hosts:
                problems.append("STORES_ALLOW_PRIVATE_HOSTS is for local stand-ins; stores must be public addresses")
            if self.stripe.enabled and not self.stripe.publishable_key:
                problems.append("STRIPE_PUBLISHABLE_KEY is required when STRIPE_SECRET_KEY is set (brands pay with it)")
            if problems:
                raise ConfigurationError("Cannot start in production mode:\n  - " + "\n  - ".join(problems))
            return self
        if not self.app.secret_key:
            return _replace_secret(self, _development_secret(self.storage.var_dir))
        return self


def _development_secret(var_dir: Path) -> str:
    """A per-checkout secret kept under var/, so development sessions survive restarts without a shared key."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        var_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


def _replace_secret(settings: Settings, secret: str) -> Settings:
    from dataclasses import replace

    return replace(settings, app=replace(settings.app, secret_key=secret))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
