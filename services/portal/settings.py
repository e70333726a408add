"""Settings of the portal service (environment prefix `PORTAL_`): address, secret, NATS timeout."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, var_dir


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    service: str = "portal"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535, description="0, or a taken port: a free one is picked")
    secret_key: str = Field(default="", description="signs session cookies; kept in var/portal.secret when unset")
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    secure_cookies: bool = Field(default=False, description="set behind HTTPS in production")

    def secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        # A secret of this installation, made once: sessions survive a restart of the portal.
        import secrets

        path = var_dir() / "portal.secret"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
