"""Saved searches: the shipped TOML files and validation errors that name the file and the field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trialfinder.errors import ConfigError, UsageError
from trialfinder.queries import SavedSearch, default_queries_dir, load_queries, load_query, resolve_query

SHIPPED = {"mesothelioma", "mesothelioma-immunotherapy", "mesothelioma-car-t", "mesothelioma-vaccines"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_queries__shipped_searches(tmp_path: Path) -> None:
    searches = load_queries()
    assert {s.name for s in searches} == SHIPPED
    for s in searches:
        assert s.path is not None and s.path.stem == s.name  # file name = search name
        assert s.params["query.cond"] == "mesothelioma"
        assert s.title and s.description.strip()
    broad = next(s for s in searches if s.name == "mesothelioma")
    assert broad.api_params() == {"query.cond": "mesothelioma"}  # broad on purpose: no other filter


def test_load_query__contract_example_parses(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "m.toml",
        'name = "mesothelioma"\ntitle = "All mesothelioma studies"\ndescription = "..."\n'
        '[params]\n"query.cond" = "mesothelioma"\n',
    )
    s = load_query(p)
    assert s == SavedSearch(
        name="mesothelioma", title="All mesothelioma studies", description="...",
        params={"query.cond": "mesothelioma"}, path=p,
    )  # fmt: skip
    assert s.describe() == {
        "name": "mesothelioma", "title": "All mesothelioma studies",
        "params": {"query.cond": "mesothelioma"}, "path": str(p),
    }  # fmt: skip


def test_load_query__empty_params_means_every_study(tmp_path: Path) -> None:
    s = load_query(write(tmp_path, "all.toml", 'name = "all"\ntitle = "Everything"\n[params]\n'))
    assert s.api_params() == {}


@pytest.mark.parametrize(
    ("text", "field", "why"),
    [
        ('title = "x"\n', "name", "Field required"),
        ('name = "x"\n', "title", "Field required"),
        ('name = "Bad Name"\ntitle = "x"\n', "name", "lower case"),
        ('name = "x"\ntitle = "x"\ncolour = "red"\n', "colour", "Extra inputs"),
        ('name = "x"\ntitle = "x"\n[params]\n"filter.phase" = "PHASE2"\n', "params", "filter.phase"),
        ('name = "x"\ntitle = "x"\n[params]\n"pageSize" = 10\n', "params", "paging"),
        ('name = "x"\ntitle = "x"\n[params]\n"query.cond" = "  "\n', "params", "must not be empty"),
        ('name = "x"\ntitle = "x"\n[params]\n"filter.ids" = "NCT123"\n', "params", "not an NCT ID"),
    ],
)
def test_load_query__invalid_names_file_and_field(tmp_path: Path, text: str, field: str, why: str) -> None:
    p = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load_query(p)
    msg = str(info.value)
    assert str(p) in msg
    assert f"'{field}" in msg
    assert why in msg


def test_load_query__not_toml(tmp_path: Path) -> None:
    p = write(tmp_path, "broken.toml", "name = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_query(p)
    with pytest.raises(ConfigError, match="file not found"):
        load_query(tmp_path / "nope.toml")


def test_load_queries__duplicate_names_rejected(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'name = "same"\ntitle = "A"\n')
    write(tmp_path, "b.toml", 'name = "same"\ntitle = "B"\n')
    with pytest.raises(ConfigError, match="'same' is used twice"):
        load_queries(tmp_path)


def test_load_queries__empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no saved searches"):
        load_queries(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_queries(tmp_path / "missing")


def test_resolve_query__by_name_and_by_path(tmp_path: Path) -> None:
    assert resolve_query("mesothelioma-car-t").name == "mesothelioma-car-t"
    p = write(tmp_path, "mine.toml", 'name = "mine"\ntitle = "Mine"\n[params]\n"query.term" = "x"\n')
    assert resolve_query(str(p)).params == {"query.term": "x"}
    with pytest.raises(UsageError, match=r"no saved search named 'nope' \(known: mesothelioma, "):
        resolve_query("nope")


def test_shipped_files__are_plain_toml_contract() -> None:
    for p in sorted(default_queries_dir().glob("*.toml")):
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
        assert set(raw) <= {"name", "title", "description", "params"}, p


def test_default_queries_dir__falls_back_to_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trialfinder.queries as q

    installed = tmp_path / "site-packages" / "trialfinder" / "queries.py"  # no queries/ beside it
    monkeypatch.setattr(q, "__file__", str(installed))
    monkeypatch.chdir(tmp_path)
    assert q.default_queries_dir() == tmp_path / "site-packages" / "queries"  # nothing anywhere
    (tmp_path / "queries").mkdir()
    assert q.default_queries_dir() == tmp_path / "queries"
