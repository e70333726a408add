"""Settings of the contracts service (environment prefix `CONTRACTS_`)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ContractsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRACTS_", extra="ignore", frozen=True)

    service: str = "contracts"
