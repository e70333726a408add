"""Settings of the notifier service (environment prefix `NOTIFIER_`)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    service: str = "notifier"
    staff_party: str = "staff:home-affairs"
    low_balance_ratio: float = 0.10
