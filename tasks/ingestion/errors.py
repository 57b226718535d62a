"""Errors of ingestion: contract violations are never retried, transient I/O errors are."""

from __future__ import annotations

from tasks.retries import is_transient as _is_transient


class IngestionError(Exception):
    """Base of every error raised on purpose by ingestion."""


class ContractViolationError(IngestionError):
    """The source broke its contract as a whole; retrying cannot help, the export must be fixed."""


class SchemaMismatchError(ContractViolationError):
    """A required column is missing or renamed (raised before anything is written)."""

    def __init__(self, source: str, where: str, missing: list[str], unexpected: list[str]) -> None:
        self.source = source
        self.where = where
        self.missing = missing
        self.unexpected = unexpected
        hint = f"; unexpected column(s) {', '.join(unexpected)}" if unexpected else ""
        super().__init__(
            f"{source}: {where} lacks required column(s) {', '.join(missing)}{hint}. "
            "Fix the export or map the columns (see docs/ingestion.md); nothing was written."
        )


class SourceFormatError(ContractViolationError):
    """A source file or database is not in its documented format (CSV/JSONL/SQLite, file name)."""


class SourceNotFoundError(IngestionError):
    """The source's folder or file does not exist (a configuration error, not retried)."""


class UnknownSourceError(IngestionError, KeyError):
    """No source module of that name exists in tasks/ingestion/sources/."""


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying (see tasks.retries); ingestion's own errors never are."""
    if isinstance(exc, IngestionError):
        return False
    return _is_transient(exc)


class EmptySourceFileError(SourceFormatError):
    """An export file holds no data rows: refused, so the watermark cannot skip its month."""

    def __init__(self, path: object, *, source: str, what: str) -> None:
        self.path = path
        super().__init__(
            f"{source}: file {path} has {what}. An empty export is refused so the watermark does "
            "not move past a month that may still arrive: re-export it, or remove the file if "
            "that month truly has no data; nothing was written."
        )
