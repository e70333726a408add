"""Settings of the matcher service (environment prefix `MATCHER_`)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class MatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore", frozen=True)

    service: str = "matcher"
    time_limit_s: float | None = Field(
        default=None, gt=0, le=600, description="per background re-solve; unset: sized to the problem"
    )
    solve_in_process: bool = Field(default=True, description="re-solve in a child process (off: a worker thread)")
    workers: int = Field(default=2, ge=1, le=64)
    seed: int = 0
    debounce_s: float = Field(default=0.3, ge=0, description="batch changes before a re-solve")
    timezone_offset_hours: int = Field(default=7, description="Vietnam: the day a deadline falls")
    change_poll_s: float = Field(default=0.2, gt=0, description="the leader's look for other copies' changes")
    scarcity_weight: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="the placement's price of scarcity against cost; unset: `scarcity.W_SCARCE` (300); 0: no price",
    )
    hiring_time_limit_s: float = Field(
        default=6.0,
        gt=0,
        le=600,
        description="the joint model of one hiring plan (`matcher.hiring_plan.get`); "
        "the engine's solves around it are sized to the problem",
    )
