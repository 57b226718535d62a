"""The one way our command lines end: a result, or one or two lines saying what failed and why.

``run_cli`` adds ``--verbose`` to a parser, runs the command's body and turns any exception into
``<prog>: <what failed and why>`` (exit 1); ``--verbose`` or ``CHURN_DEBUG=1`` adds the traceback.
Tracebacks that libraries log to the console are hidden too unless verbose.

A command started from a terminal fails fast (``fail_fast``): a store that does not answer ends
it within seconds, where a run started by a worker retries with backoff (tasks/retries.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEBUG_ENV = "CHURN_DEBUG"
_MAX_CHARS = 600
# No task retries (CHURN_FAIL_FAST, read by tasks.retries), and short connection timeouts: libpq
# (psycopg) reads PGCONNECT_TIMEOUT, MLflow's HTTP client its retry count and request timeout.
FAIL_FAST_ENV = {
    "CHURN_FAIL_FAST": "1",
    "PGCONNECT_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


class UsageError(Exception):
    """A bad command-line value found after parsing: report it like argparse would (exit 2)."""


def debug_requested(args: argparse.Namespace | None = None) -> bool:
    """True with ``--verbose`` or ``CHURN_DEBUG`` set to anything but 0/empty."""
    flag = bool(getattr(args, "verbose", False))
    return flag or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0", "false", "no")


def run_cli(
    body: Callable[[argparse.Namespace], int | None],
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
) -> int:
    """Parse ``argv``, run ``body(args)``; return its exit code, or 1 after a short error report."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"show tracebacks and debug logs (same as {DEBUG_ENV}=1)",
    )
    args = parser.parse_args(argv)
    verbose = debug_requested(args)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s")
    prog = parser.prog
    with fail_fast(), console_tracebacks(shown=verbose):
        try:
            return body(args) or 0
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except UsageError as exc:
            print(f"{prog}: error: {exc} (see --help)", file=sys.stderr)
            return 2
        except Exception as exc:
            if verbose:
                traceback.print_exc()
            print(f"{prog}: {describe_error(exc)}", file=sys.stderr)
            if not verbose:
                print(f"  (--verbose or {DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
            return 1


_OS_HINTS: dict[type[OSError], str] = {
    NotADirectoryError: "part of that path is a file, not a folder; choose another path",
    IsADirectoryError: "that path is a folder, not a file; check the path",
    FileNotFoundError: "it does not exist; check the path (or CHURN_HOME)",
    FileExistsError: "it already exists as a file; move it away or choose another path",
    PermissionError: "permission denied; choose a writable path or fix its permissions",
}


def describe_error(exc: BaseException) -> str:
    """One line: the error's own message (the driver's for database errors), its type if bare."""
    hint = next((h for kind, h in _OS_HINTS.items() if type(exc) is kind), None)
    if hint and isinstance(exc, OSError) and exc.filename:
        return f"cannot use {exc.filename}: {hint}"
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    inner = orig if isinstance(orig, BaseException) else exc
    text = " ".join(part.strip() for part in str(inner).splitlines() if part.strip())
    if not text:
        text = type(inner).__name__
    elif not _is_ours(exc):
        text = f"{type(inner).__name__}: {text}"
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _is_ours(exc: BaseException) -> bool:
    """Errors raised on purpose by this project already say what failed; no type prefix."""
    module = type(exc).__module__.split(".")[0]
    ours = ("core", "tasks", "flows", "models", "simulator", "monitoring", "bentos", "__main__")
    return module in ours


class _NoTraceback(logging.Formatter):
    """Formats a record with another formatter, leaving out its traceback and stack."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


@contextmanager
def fail_fast() -> Iterator[None]:
    """Inside, a store that does not answer fails at once (``FAIL_FAST_ENV``); a variable the
    environment sets already wins (``CHURN_FAIL_FAST=0`` keeps the retries)."""
    from core.settings import get_settings

    added = {key: value for key, value in FAIL_FAST_ENV.items() if key not in os.environ}
    os.environ.update(added)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        get_settings.cache_clear()


@contextmanager
def console_tracebacks(*, shown: bool) -> Iterator[None]:
    """Hide tracebacks from the root logger's console handlers (Prefect's included) unless shown."""
    if shown:
        yield
        return
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    saved = [(h, h.formatter) for h in handlers]
    for handler in handlers:
        handler.setFormatter(_NoTraceback(handler.formatter or logging.Formatter()))
    try:
        yield
    finally:
        for handler, formatter in saved:
            handler.setFormatter(formatter)
