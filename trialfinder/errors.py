"""The one error hierarchy of trialfinder.

Library code raises these; it never prints and returns. The CLI maps each class to a one-line
message and an exit code (``exit_code``), following the BSD ``sysexits`` conventions where one fits:

==========================  ====  ==============================================
class                       code  meaning
==========================  ====  ==============================================
TrialFinderError            1     anything else we anticipated
UsageError                  64    bad command-line or user input
DataError                   65    bad data: validation or sanity check failed
SnapshotError               65    a snapshot that cannot be read or written
StorageError                75    disk full while writing a snapshot (else 65)
NotFoundError               66    no such study / file / snapshot
TemporaryError              75    try again later: network, 429, 5xx, lock held
ConfigError                 78    bad configuration or saved-search file
==========================  ====  ==============================================
"""

from __future__ import annotations

import errno as _errno

EX_GENERIC = 1
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
EX_CONFIG = 78


class TrialFinderError(Exception):
    """Base class of every error trialfinder raises on purpose."""

    exit_code: int = EX_GENERIC

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


# --- user input and configuration -------------------------------------------------------------


class UsageError(TrialFinderError):
    """The user asked for something malformed (bad NCT ID, bad ZIP code, bad filter value)."""

    exit_code = EX_USAGE


class InvalidNctIdError(UsageError):
    """An NCT ID that is not ``NCT`` followed by 8 digits."""


class ConfigError(TrialFinderError):
    """Bad settings or a saved-search file that does not validate."""

    exit_code = EX_CONFIG


# --- the registry API ---------------------------------------------------------------------------


class ApiError(TrialFinderError):
    """Something went wrong talking to ClinicalTrials.gov (or the replay server)."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.url = url


class BadRequestError(ApiError):
    """HTTP 400: the API rejected our parameters. ``message`` carries the API's own text."""

    exit_code = EX_USAGE


class NotFoundError(TrialFinderError):
    """A study, file or snapshot that does not exist."""

    exit_code = EX_NOINPUT


class StudyNotFoundError(NotFoundError, ApiError):
    """HTTP 404 for ``/studies/{nctId}``."""


class TemporaryError(TrialFinderError):
    """A failure that may go away if retried later (cron should just try again)."""

    exit_code = EX_TEMPFAIL


class TemporaryApiError(TemporaryError, ApiError):
    """Network failure, timeout, 429 or 5xx after all retries, or a truncated/invalid body."""


class RateLimitedError(TemporaryApiError):
    """HTTP 429 after retries, or a ``Retry-After`` longer than we are willing to wait."""


class ServerError(TemporaryApiError):
    """HTTP 5xx after retries."""


class NetworkError(TemporaryApiError):
    """Connection refused/reset, DNS failure or timeout."""


class BodyStalledError(NetworkError):
    """The server sent its headers, then nothing more within the read timeout (retried)."""


class InvalidResponseError(TemporaryApiError):
    """A body that is truncated, not JSON, or of the wrong content type."""


class PagingError(ApiError):
    """The server's paging misbehaved (e.g. a repeated ``nextPageToken``)."""

    exit_code = EX_DATAERR


# --- data, import, store ----------------------------------------------------------------------


class DataError(TrialFinderError):
    """Records or tables that fail validation or a sanity check."""

    exit_code = EX_DATAERR


class ImportFormatError(DataError):
    """A file whose format cannot be recognised or parsed."""


class SanityCheckError(DataError):
    """A new snapshot failed a check before the swap (duplicates, too few trials, ...)."""


class SnapshotError(TrialFinderError):
    """The snapshot store is unusable (corrupt manifest, unreadable table)."""

    exit_code = EX_DATAERR


class StorageError(SnapshotError, OSError):
    """A snapshot could not be written (disk full, permissions, I/O error). Still an ``OSError``
    with the original ``errno``; a full disk or quota exits 75 (retry once there is space)."""

    def __init__(self, message: str, *, errno_: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.errno = errno_
        if errno_ in (_errno.ENOSPC, _errno.EDQUOT):
            self.exit_code = EX_TEMPFAIL


class NoSnapshotError(NotFoundError):
    """There is no current snapshot yet."""


class LockTimeoutError(TemporaryError):
    """Another refresh holds the lock and did not release it in time."""
