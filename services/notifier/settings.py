"""Settings of the notifier service (environment prefix `NOTIFIER_`): channels, retries, limits."""

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.parties import staff_party
from shared.settings import ServiceSettings, installation_secret

DAY = 24 * 3600.0


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    service: str = "notifier"
    secret_key: str = Field(default="", description="seals webhook secrets at rest; var/notifier.key when empty")
    low_balance_ratio: float = Field(default=0.10, gt=0, lt=1)
    expiry_warning_days: int = Field(default=14, ge=0, le=365)
    timezone_offset_hours: int = Field(default=7, description="Vietnam: the day a contract ends")

    # Email: no host means email is not configured, and an email delivery fails with that reason.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "expertshare@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=15.0, gt=0, le=300)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Webhooks reach public addresses only (services/notifier/addresses.py); 1 lets them reach
    # loopback and private ones too: tests, or gateways on the deployment's own network.
    webhook_allow_private: bool = False
    # The staff parties that may have preferences, comma separated (staff:<name>), besides the one
    # the notifier itself writes to (staff:home-affairs).
    staff_parties: str = Field(default="", max_length=2000)

    # The delivery queue: every try is bounded by the channel's timeout; a failing one waits
    # retry_base_s * 2**(attempt-1) (at most retry_max_s, with jitter), and is given up after
    # max_attempts tries.
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_base_s: float = Field(default=30.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0)
    concurrency: int = Field(default=16, ge=1, le=256, description="sends in flight at once")
    poll_s: float = Field(default=1.0, gt=0, description="how often the queue is looked at")
    lease_s: float = Field(default=120.0, gt=0, description="a claimed send not finished by then is retried")

    # Daily digest: sent at the first check after each period boundary (00:00 UTC is 07:00 in
    # Vietnam).
    digest_period_s: float = Field(default=DAY, gt=0)
    digest_offset_s: float = Field(default=0.0, ge=0)

    # A task its expert has not answered: reminded, escalated to staff, then declined for them.
    remind_after_s: float = Field(default=DAY, gt=0)
    escalate_after_s: float = Field(default=2 * DAY, gt=0)
    decline_after_s: float = Field(default=3 * DAY, gt=0)
    watch_interval_s: float = Field(default=30.0, gt=0, description="how often the limits are checked")

    @model_validator(mode="after")
    def _limits_in_order(self) -> "NotifierSettings":
        if not self.remind_after_s <= self.escalate_after_s <= self.decline_after_s:
            raise ValueError("remind_after_s <= escalate_after_s <= decline_after_s must hold")
        return self

    def staff(self) -> frozenset[str]:
        names = (n.strip() for n in self.staff_parties.split(","))
        return frozenset(staff_party(n) for n in names if n)

    def secret(self) -> str:
        """`secret_key`, else a key of this installation made once in var/notifier.key."""
        return self.secret_key or installation_secret("notifier.key")
