"""Command-line interface: a thin click layer over the library.

Every command takes ``--data-dir`` (env ``TRIALFINDER_DATA_DIR``) and ``--debug``. Errors raised by
the library become one line on stderr and the error's exit code (see ``docs/cli.md``)::

    0   done, or nothing new              64  usage: bad option, argument or input
    1   unexpected error                  65  bad data: validation or sanity check failed
    66  not found (file, study, snapshot) 75  temporary: network, 429, 5xx, lock held; retry later
    78  configuration (settings, saved-search files)

``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from trialfinder import __version__
from trialfinder.errors import EX_GENERIC, EX_USAGE, NotFoundError, TrialFinderError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("trialfinder")


# --- plumbing -------------------------------------------------------------------------------


class TrialfinderGroup(click.Group):
    """A click group whose usage errors exit with 64 (EX_USAGE) instead of click's 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = EX_USAGE  # type: ignore[misc]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = EX_USAGE  # type: ignore[misc]
            raise


class _StderrHandler(logging.Handler):
    """Log lines to whatever ``sys.stderr`` is at the time (click's test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)


def _setup_logging(debug: bool) -> None:
    """Log lines on stderr: INFO when stderr is not a terminal (cron, CI: they are the progress
    report), WARNING on a terminal (progress bars show progress), DEBUG with ``--debug``."""
    root = logging.getLogger("trialfinder")
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    tty = getattr(sys.stderr, "isatty", lambda: False)()
    root.setLevel(logging.DEBUG if debug else (logging.WARNING if tty else logging.INFO))


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def common_options(fn: F) -> F:
    """Add ``--data-dir`` and ``--debug``; turn library errors into one line + exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return fn(*args, **kwargs)
        except TrialFinderError as exc:
            if debug:
                raise
            _fail(str(exc).replace("\n", " "), exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            if debug:
                raise
            _fail("interrupted", 130)
        except Exception as exc:
            if debug:
                raise
            first = str(exc).splitlines()[0] if str(exc) else ""
            _fail(
                f"unexpected {type(exc).__name__}: {first} (run again with --debug for details)", EX_GENERIC
            )
        return None

    wrapper = click.option(
        "--debug", is_flag=True, default=False, help="Show full tracebacks and debug logging."
    )(wrapper)
    wrapper = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="TRIALFINDER_DATA_DIR",
        show_envvar=True,
        default=None,
        help="Where snapshots, the lock and the HTTP cache live.",
    )(wrapper)
    return cast(F, wrapper)


def _settings(data_dir: Path | None, **overrides: Any) -> Any:
    from trialfinder.config import get_settings

    return get_settings(data_dir=data_dir, **overrides)


def _queries(names: Sequence[str], queries_dir: Path | None) -> list[Any]:
    from trialfinder.queries import load_queries, resolve_query

    if names:
        return [resolve_query(n, queries_dir) for n in names]
    return load_queries(queries_dir)


queries_dir_option = click.option(
    "--queries-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TRIALFINDER_QUERIES_DIR",
    default=None,
    help="Folder of saved searches (default: queries/ of the checkout).",
)
"""``--queries-dir`` of ``refresh`` and ``app`` (one definition)."""


# --- the group ------------------------------------------------------------------------------


@click.group(cls=TrialfinderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trialfinder")
def cli() -> None:
    """trialfinder: clinical trials for advanced mesothelioma, from ClinicalTrials.gov.

    Exit codes: 0 ok or nothing new, 1 unexpected error, 64 usage, 65 bad data,
    66 not found, 75 temporary failure (retry later), 78 configuration.

    \b
    Example:
        trialfinder refresh && trialfinder export -o trials.csv
    """


# --- import ---------------------------------------------------------------------------------


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Skip the 'not fewer trials than before' sanity check.")
@common_options
def import_cmd(paths: tuple[Path, ...], force: bool, data_dir: Path | None, debug: bool) -> None:
    """Import study records from files, folders or zips into a new snapshot.

    Detects the format of each file: API v2 study JSON, /studies pages, website
    "Download JSON" arrays, JSONL, zips of per-study JSON and classic XML. A study
    seen twice keeps its newest version; bad files are reported and skipped.

    \b
    Example:
        trialfinder import ../shared/ctgov
    """
    from trialfinder.refresh import import_into_store

    _setup_logging(debug)
    result = import_into_store(list(paths), _settings(data_dir), force=force)
    for skipped in result.skipped_files:
        click.echo(f"skipped: {skipped}", err=True)
    click.echo(result.summary())


# --- refresh --------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--query",
    "query_names",
    multiple=True,
    metavar="NAME_OR_PATH",
    help="Refresh only this saved search (a name in queries/ or a .toml path). Repeatable.",
)
@click.option("--full", is_flag=True, help="Fetch everything again instead of only what changed.")
@click.option("--force", is_flag=True, help="Accept a snapshot with far fewer trials than the last one.")
@queries_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common_options
def refresh(
    query_names: tuple[str, ...],
    full: bool,
    force: bool,
    queries_dir: Path | None,
    as_json: bool,
    data_dir: Path | None,
    debug: bool,
) -> None:
    """Fetch the saved searches from ClinicalTrials.gov into a new snapshot.

    Asks /version first and stops there when the registry has not changed since
    the last snapshot (exit 0, one request). Otherwise fetches studies updated
    since the last data date minus 3 days and merges them in; --full rebuilds.
    TRIALFINDER_API_URL points it at another server (e.g. `trialfinder replay`).

    \b
    Example:
        trialfinder refresh
        trialfinder refresh --query mesothelioma-car-t --full
    """
    from trialfinder.refresh import refresh as do_refresh

    _setup_logging(debug)
    settings = _settings(data_dir)
    result = do_refresh(settings, _queries(query_names, queries_dir), full=full, force=force)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(result.summary())


# --- status & changes --------------------------------------------------------------------------


def _status_lines(settings: Any) -> tuple[list[str], bool]:
    from datetime import UTC, datetime

    from trialfinder.store import load_current, read_last_refresh

    lines = [f"data dir:      {settings.data_dir}"]
    have = True
    try:
        snap = load_current(settings.data_dir, tables=["trials", "changes"])
    except NotFoundError:
        lines.append("snapshot:      none yet (run `trialfinder refresh` or `trialfinder import PATH`)")
        have = False
        snap = None
    if snap is not None:
        m = snap.manifest
        mode = snap.mode
        demo = " (RECORDED DEMO DATA, not live)" if mode == "recorded-demo" else ""
        lines.append(f"snapshot:      {snap.name}  mode: {mode}{demo}")
        lines.append(f"data as of:    {snap.data_timestamp or 'unknown'}")
        created = snap.created_at
        age = ""
        if created is not None:
            days = (datetime.now(UTC) - created).total_seconds() / 86400
            age = f"  ({days:.1f} days ago)"
            if days > settings.stale_after_days:
                age += f"  STALE: older than {settings.stale_after_days} days"
        lines.append(f"created:       {m.get('created_at')}{age}")
        searches = ", ".join(str(s.get("name")) for s in m.get("searches") or []) or "-"
        lines.append(f"searches:      {searches}")
        counts = m.get("counts") or {}
        lines.append("counts:        " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        ch = {k: v for k, v in (m.get("changes") or {}).items() if v}
        prev = m.get("previous") or "none"
        changes = ", ".join(f"{v} {k}" for k, v in ch.items()) or "none"
        lines.append(f"changes:       {changes} (against {prev})")
    last = read_last_refresh(settings.data_dir)
    if last is None:
        lines.append("last refresh:  never")
    else:
        when = last.get("finished_at") or "?"
        lines.append(f"last refresh:  {last.get('status')} at {when}: {last.get('message', '')}")
    return lines, have


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print manifest and last outcome as JSON.")
@common_options
def status(as_json: bool, data_dir: Path | None, debug: bool) -> None:
    """Show the current snapshot: data date, counts, changes and the last refresh outcome.

    Exits 66 when there is no snapshot yet.

    \b
    Example:
        trialfinder status
    """
    from trialfinder.errors import NoSnapshotError
    from trialfinder.store import load_current, read_last_refresh

    settings = _settings(data_dir)
    if as_json:
        try:
            manifest: dict[str, Any] | None = load_current(settings.data_dir, tables=[]).manifest
        except NoSnapshotError:
            manifest = None
        out = {
            "data_dir": str(settings.data_dir),
            "manifest": manifest,
            "last_refresh": read_last_refresh(settings.data_dir),
        }
        click.echo(json.dumps(out, indent=2))
        if manifest is None:
            sys.exit(NoSnapshotError.exit_code)
        return
    lines, have = _status_lines(settings)
    click.echo("\n".join(lines))
    if not have:
        sys.exit(NoSnapshotError.exit_code)


def _short(v: Any, width: int = 70) -> str:
    if v is None:
        return ""
    s = " ".join(str(v).split())
    return s if len(s) <= width else s[: width - 1] + "…"


@cli.command()
@click.option(
    "--type", "kinds", multiple=True, help="Only this kind of change (e.g. status_changed). Repeatable."
)
@click.option("--limit", type=click.IntRange(min=0), default=0, help="Show at most N changes (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON records.")
@common_options
def changes(kinds: tuple[str, ...], limit: int, as_json: bool, data_dir: Path | None, debug: bool) -> None:
    """Show what changed in the latest snapshot against the one before it.

    Kinds: new_trial, removed_trial, status_changed, eligibility_changed,
    site_added, site_removed, site_status_changed.

    \b
    Example:
        trialfinder changes --type status_changed
    """
    from trialfinder.errors import UsageError
    from trialfinder.store import CHANGE_KINDS, load_current

    bad = [k for k in kinds if k not in CHANGE_KINDS]
    if bad:
        raise UsageError(f"unknown change kind {bad[0]!r} (known: {', '.join(CHANGE_KINDS)})")
    settings = _settings(data_dir)
    snap = load_current(settings.data_dir, tables=["changes"])
    df = snap.table("changes")
    if kinds:
        df = df[df["change"].isin(list(kinds))]
    if limit:
        df = df.head(limit)
    records = [
        {k: (None if v is None or v != v else str(v)) for k, v in r.items()}
        for r in df.astype(object).to_dict("records")
    ]
    if as_json:
        click.echo(
            json.dumps(
                {"snapshot": snap.name, "previous": snap.manifest.get("previous"), "changes": records},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    prev = snap.manifest.get("previous")
    if prev is None:
        click.echo(f"snapshot {snap.name} is the first one: nothing to compare with")
        return
    click.echo(f"snapshot {snap.name} against {prev}: {len(records)} change(s)")
    for r in records:
        kind = r["change"]
        if kind in ("new_trial", "removed_trial"):
            click.echo(f"{r['nct_id']}  {kind:<20} {_short(r['new'] or r['old'])}")
        elif kind == "eligibility_changed":
            click.echo(f"{r['nct_id']}  {kind:<20} eligibility criteria text changed")
        elif kind in ("site_added", "site_removed"):
            click.echo(f"{r['nct_id']}  {kind:<20} {_short(r['new'] or r['old'])}")
        else:
            click.echo(f"{r['nct_id']}  {kind:<20} {_short(r['field'], 40)}: {r['old']} -> {r['new']}")


# --- export -----------------------------------------------------------------------------------


@cli.command()
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="CSV file to write ('-' for standard output).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Overall status, e.g. RECRUITING or 'not yet recruiting'. Repeatable.",
)
@click.option(
    "--class",
    "classes",
    multiple=True,
    help="Intervention class, e.g. checkpoint_inhibitor or car_t. Repeatable.",
)
@click.option(
    "--advanced", is_flag=True, help="Only trials open to advanced (stage IV/unresectable) disease."
)
@click.option("--prior-io-ok", is_flag=True, help="Drop trials that exclude prior immunotherapy.")
@click.option("--nct", "nct_ids", multiple=True, help="Only this NCT ID. Repeatable.")
@click.option(
    "--query-text",
    default=None,
    help="Only trials whose title, conditions, interventions, keywords or summary contain this text.",
)
@common_options
def export(
    output: Path,
    statuses: tuple[str, ...],
    classes: tuple[str, ...],
    advanced: bool,
    prior_io_ok: bool,
    nct_ids: tuple[str, ...],
    query_text: str | None,
    data_dir: Path | None,
    debug: bool,
) -> None:
    """Write the trials of the current snapshot to a spreadsheet-safe CSV file.

    UTF-8 with BOM, every field quoted, formula-like cells neutralised, lists
    joined with "; ". With no filters every trial is written.

    \b
    Example:
        trialfinder export -o shortlist.csv --status recruiting --advanced --prior-io-ok
    """
    from trialfinder.ctgov.params import validate_nct_id
    from trialfinder.export import ExportFilters, build_export_frame, to_csv_bytes, write_csv
    from trialfinder.store import load_current

    ids = tuple(validate_nct_id(n) for n in nct_ids)
    filters = ExportFilters(
        statuses=statuses,
        classes=classes,
        advanced=advanced,
        prior_io_ok=prior_io_ok,
        nct_ids=ids,
        query_text=query_text,
    )
    settings = _settings(data_dir)
    snap = load_current(settings.data_dir)
    df = build_export_frame(snap, filters=filters)
    if str(output) == "-":
        sys.stdout.buffer.write(to_csv_bytes(df))
        sys.stdout.flush()
        return
    write_csv(df, output)
    click.echo(
        f"wrote {len(df)} trials to {output} (data as of {snap.data_timestamp or 'unknown'})", err=True
    )


# --- replay ---------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Folder of recorded API v2 JSON (e.g. ../shared/ctgov/v2).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Inject a fault, e.g. 429:N, 503:N, delay:SECONDS, slowbody:SECONDS, stallbody:N, truncate:N, "
    "reset:N, badjson:N (every kind: docs/replay.md). Repeatable.",
)
@click.option(
    "--data-timestamp",
    default=None,
    metavar="ISO",
    help="dataTimestamp that /version reports (default: newest LastUpdatePostDate).",
)
@common_options
def replay(
    data: Path,
    port: int,
    host: str,
    faults: tuple[str, ...],
    data_timestamp: str | None,
    data_dir: Path | None,
    debug: bool,
) -> None:
    """Serve recorded studies as a local stand-in of the ClinicalTrials.gov API v2.

    Point the client at it with TRIALFINDER_API_URL=http://HOST:PORT/api/v2.
    Stop it with Ctrl-C.

    \b
    Example:
        trialfinder replay --data ../shared/ctgov/v2 --port 8765 --fault 429:2
    """
    from trialfinder.ctgov import replay as rp

    _setup_logging(debug)
    parsed = [rp.parse_fault(f) for f in faults]
    try:
        rp.serve(data, host=host, port=port, faults=parsed, data_timestamp=data_timestamp)
    except KeyboardInterrupt:
        click.echo("replay server stopped", err=True)


# --- eval ------------------------------------------------------------------------------------


@cli.command("eval")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@common_options
def eval_cmd(labels: Path, data_dir: Path | None, debug: bool) -> None:
    """Compare the facets of the current snapshot with hand labels and print precision/recall.

    \b
    Example:
        trialfinder eval bench/labels/dev.csv
    """
    from trialfinder.facets.evaluate import evaluate
    from trialfinder.store import load_current

    snap = load_current(_settings(data_dir).data_dir)
    report = evaluate(labels, snap.tables)
    click.echo(report.format())


# --- app -------------------------------------------------------------------------------------


def find_app_py() -> Path:
    """``app.py`` beside the package (a checkout) or inside it (an installed package)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "app.py", here / "app.py"):
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"cannot find app.py next to {here}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--no-refresh", is_flag=True, help="Start with whatever data is there; never fetch.")
@queries_dir_option
@click.argument("streamlit_args", nargs=-1, type=click.UNPROCESSED)
@common_options
def app(
    no_refresh: bool,
    queries_dir: Path | None,
    streamlit_args: tuple[str, ...],
    data_dir: Path | None,
    debug: bool,
) -> None:
    """Start the dashboard (Streamlit), making sure there is data to show.

    With no snapshot, or one older than a day, it first tries a quick refresh;
    when the live API cannot be reached and there is no snapshot, it imports the
    recorded data (settings.recorded_dir) as a "recorded-demo" snapshot and the
    page says so. Extra arguments go to `streamlit run`.

    \b
    Example:
        trialfinder app --server.port 8501
    """
    from trialfinder.refresh import ensure_app_data

    _setup_logging(debug)
    settings = _settings(data_dir)
    if not no_refresh:
        message = ensure_app_data(settings, lambda: _queries((), queries_dir))
        click.echo(message, err=True)
    app_py = find_app_py()
    os.environ["TRIALFINDER_DATA_DIR"] = str(settings.data_dir)
    argv = [sys.executable, "-m", "streamlit", "run", str(app_py), *streamlit_args]
    os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with streamlit, no shell


def main() -> None:
    cli(prog_name="trialfinder")
