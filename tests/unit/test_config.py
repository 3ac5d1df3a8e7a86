from pathlib import Path

import pytest

from trialfinder.config import get_settings
from trialfinder.errors import ConfigError


def test_get_settings__reads_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRIALFINDER_API_URL", "http://127.0.0.1:1234/api/v2")
    s = get_settings()
    assert s.data_dir == tmp_path
    assert s.api_url == "http://127.0.0.1:1234/api/v2"
    assert s.snapshots_dir == tmp_path / "snapshots"


def test_get_settings__override_beats_env(tmp_path: Path) -> None:
    assert get_settings(data_dir=tmp_path / "x").data_dir == tmp_path / "x"


def test_get_settings__bad_value_is_config_error() -> None:
    with pytest.raises(ConfigError, match="page_size"):
        get_settings(page_size=5000)
    with pytest.raises(ConfigError, match="rate_limit_per_s"):
        get_settings(rate_limit_per_s=0)
