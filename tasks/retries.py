"""Retry policy of the Prefect task wrappers: back off on transient failures, fail the rest at once.

Transient: a database server that did not answer or dropped the connection, a locked SQLite file,
a lock held too long by another process, a network error. Everything else — a bad path, a
``CHURN_HOME`` that is a file, bad configuration, a contract violation — fails the same way on
every attempt, so it is never retried.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core.stores import StoreSetupError, StoreUnavailableError

RETRY_DELAYS = [5.0, 30.0, 120.0]
# Lost connections and locked databases: the same call may well succeed a little later.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)

# OS errors that a later attempt can outlive (the rest — no such file, not a directory,
# permission denied, file exists — need a person to fix something).
_TRANSIENT_ERRNOS = {
    errno.EAGAIN,
    errno.EBUSY,
    errno.EINTR,
    errno.ETIMEDOUT,
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EPIPE,
}
# SQLite reports a bad path and a locked file with the same exception class.
_PERMANENT_SQLITE = ("unable to open database file", "no such table", "readonly database")

RetryCondition = Callable[[Any, Any, Any], bool]


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying; False for ones that would fail the same way again."""
    if isinstance(exc, StoreUnavailableError):
        return True
    if isinstance(exc, StoreSetupError):
        return False
    if isinstance(exc, DBAPIError):
        if not isinstance(exc, DATABASE_ERRORS):
            return False  # integrity errors, programming errors: not a matter of time
        text = str(exc.orig).lower()
        return not any(marker in text for marker in _PERMANENT_SQLITE)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True  # lock timeouts (core.locks.LockTimeoutError), refused/reset connections
    if isinstance(exc, OSError):
        return exc.errno in _TRANSIENT_ERRNOS
    return False


def retry_if(is_transient: Callable[[BaseException], bool] = is_transient) -> RetryCondition:
    """A Prefect ``retry_condition_fn`` that retries only failures ``is_transient`` accepts."""

    def condition(_task: Any, _task_run: Any, state: Any) -> bool:
        error = state.result(raise_on_failure=False)
        return isinstance(error, BaseException) and is_transient(error)

    return condition
