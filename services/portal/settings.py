"""Settings of the portal service (environment prefix `PORTAL_`): address, secret, NATS timeout."""

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

    def secret(self) -> str:
        # Else a secret of this installation: sessions survive a restart of the portal.
        return self.secret_key or installation_secret("portal.secret")
