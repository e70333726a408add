"""Settings of the contracts service (environment prefix `CONTRACTS_`)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ContractsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRACTS_", extra="ignore", frozen=True)

    service: str = "contracts"
    timezone_offset_hours: int = Field(default=7, description="Vietnam: the day a contract ends")
    expiry_check_s: float = Field(default=600.0, gt=0, description="how often past contracts are expired")
