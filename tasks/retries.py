"""Retry policy of the Prefect task wrappers: back off on transient failures, fail the rest at once.

Transient: a database server that did not answer or dropped the connection, a locked SQLite file,
a lock held too long by another process, a network error. Everything else — a bad path, a
``CHURN_HOME`` that is a file, bad configuration, a contract violation — fails the same way on
every attempt, so it is never retried.

A command started from a terminal (``core.cli.fail_fast``: ``CHURN_FAIL_FAST``) retries nothing:
a person waits for its answer. Runs started by a worker keep the retries.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core.settings import get_settings
from core.stores import StoreSetupError, StoreUnavailableError
from tasks.artifacts import ArtifactError

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
    if isinstance(exc, (StoreSetupError, ArtifactError)):
        return False
    if isinstance(exc, DBAPIError):
        if not isinstance(exc, DATABASE_ERRORS):
            return False  # integrity errors, programming errors: not a matter of time
        text = str(exc.orig).lower()
        return not any(marker in text for marker in _PERMANENT_SQLITE)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True  # lock timeouts (core.locks.LockTimeoutError), refused/reset connections
    if _unanswered_http(exc):
        return True  # an MLflow tracking server that refused or timed out
    if isinstance(exc, OSError):
        return exc.errno in _TRANSIENT_ERRNOS
    return False


def _unanswered_http(exc: BaseException) -> bool:
    """A refused or timed-out HTTP request, or MLflow's error raised while handling one (its
    client raises ``MlflowException`` without ``from``: the request error is the context)."""
    import requests

    unanswered = (requests.ConnectionError, requests.Timeout)
    if isinstance(exc, unanswered):
        return True
    context = exc.__cause__ or exc.__context__
    return type(exc).__module__.startswith("mlflow") and isinstance(context, unanswered)


def retry_if(is_transient: Callable[[BaseException], bool] = is_transient) -> RetryCondition:
    """A Prefect ``retry_condition_fn`` that retries only failures ``is_transient`` accepts,
    and none in a command started from a terminal (``CHURN_FAIL_FAST``)."""

    def condition(_task: Any, _task_run: Any, state: Any) -> bool:
        if get_settings().fail_fast:
            return False
        error = state.result(raise_on_failure=False)
        return isinstance(error, BaseException) and is_transient(error)

    return condition
