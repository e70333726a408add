"""Settings of the portal service (environment prefix `PORTAL_`): address, secret, NATS timeout,
and the limits that keep it standing against hostile input and hostile people."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, installation_secret


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    service: str = "portal"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535, description="0, or a taken port: a free one is picked")
    secret_key: str = Field(default="", description="signs session cookies; kept in var/portal.secret when unset")
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    secure_cookies: bool = Field(default=False, description="set behind HTTPS in production")
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="the largest request body; more is refused (413) before it is read"
    )
    max_upload_bytes: int = Field(
        default=7_000_000, ge=1024, description="the largest body of the sheets upload (three CSV files of 2 MB)"
    )
    session_idle_minutes: int = Field(default=120, ge=1, description="a session unused this long has ended")
    session_hours: int = Field(default=12, ge=1, description="a session ends this long after sign-in, used or not")
    hash_concurrency: int = Field(
        default=2, ge=1, le=64, description="password hashes (argon2) computed at once, off the event loop"
    )
    hash_queue: int = Field(
        default=64, ge=0, description="callers that may wait for a hash; more get 503 with Retry-After"
    )
    sign_in_failures_per_address: int = Field(
        default=20, ge=1, description="failed sign-ins from one address within the window before it is refused"
    )
    trusted_proxies: str = Field(
        default="", description="comma-separated addresses of the reverse proxies whose X-Forwarded-For is believed"
    )

    def secret(self) -> str:
        # Else a secret of this installation: sessions survive a restart of the portal.
        return self.secret_key or installation_secret("portal.secret")

    def proxies(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())
