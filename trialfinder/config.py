"""One settings object for the whole program.

Values come, in increasing priority, from the defaults below, environment variables prefixed
``TRIALFINDER_`` (e.g. ``TRIALFINDER_DATA_DIR``, ``TRIALFINDER_API_URL``) and explicit keyword
arguments (which the CLI fills from its flags). Nothing is read at import time: call
:func:`get_settings` (or build :class:`Settings` yourself) when you need them.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trialfinder import __version__

PUBLIC_API_URL = "https://clinicaltrials.gov/api/v2"


def default_data_dir() -> Path:
    return Path(user_data_dir("trialfinder", appauthor=False))


def default_shared_dir() -> Path:
    """Where the recorded ClinicalTrials.gov data lives in a development checkout (``../shared/ctgov``)."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "ctgov"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIALFINDER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    api_url: str = PUBLIC_API_URL
    # recorded data used when the live API cannot be reached (offline demo)
    recorded_dir: Path = Field(default_factory=default_shared_dir)

    # HTTP politeness and robustness
    user_agent: str = (
        f"trialfinder/{__version__} (+https://github.com/trialfinder/trialfinder; clinical trial finder)"
    )
    rate_limit_per_s: float = 1.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_retries: int = 5
    backoff_factor_s: float = 1.0
    retry_after_cap_s: float = 60.0
    page_size: int = 1000

    # cache expiry (seconds) per endpoint
    cache_expire_studies_s: int = 6 * 3600
    cache_expire_study_s: int = 24 * 3600
    cache_expire_version_s: int = 0

    # store
    keep_snapshots: int = 5
    lock_timeout_s: float = 60.0
    min_count_ratio: float = 0.9
    incremental_overlap_days: int = 3
    stale_after_days: int = 14

    @field_validator("rate_limit_per_s")
    @classmethod
    def _positive_rate(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be > 0 requests per second")
        return v

    @field_validator("page_size")
    @classmethod
    def _page_size(cls, v: int) -> int:
        if not 1 <= v <= 1000:
            raise ValueError("must be between 1 and 1000 (the API's maximum)")
        return v

    @field_validator("retry_after_cap_s")
    @classmethod
    def _cap(cls, v: float) -> float:
        if not 0 <= v <= 60:
            raise ValueError("must be between 0 and 60 seconds")
        return v

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "http_cache.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "refresh.lock"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (``None`` values are ignored)."""
    from pydantic import ValidationError

    from trialfinder.errors import ConfigError

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {field!r}: {first['msg']}") from None
