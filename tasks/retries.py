"""Retry policy of the Prefect task wrappers: back off on transient I/O, fail bad input at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

RETRY_DELAYS = [5.0, 30.0, 120.0]
# Lost connections and locked databases: the same call may well succeed a little later.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)

RetryCondition = Callable[[Any, Any, Any], bool]


def retry_if(is_transient: Callable[[BaseException], bool]) -> RetryCondition:
    """A Prefect ``retry_condition_fn`` that retries only failures ``is_transient`` accepts."""

    def condition(_task: Any, _task_run: Any, state: Any) -> bool:
        error = state.result(raise_on_failure=False)
        return isinstance(error, BaseException) and is_transient(error)

    return condition
