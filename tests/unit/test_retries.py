"""tasks.retries.is_transient: only failures that time can fix are retried."""

from __future__ import annotations

import errno
import sqlite3

import pytest
import requests
from sqlalchemy.exc import IntegrityError, OperationalError

from core.locks import LockTimeoutError
from core.stores import StoreSetupError, StoreUnavailableError
from tasks.artifacts import ArtifactError
from tasks.ingestion import SchemaMismatchError
from tasks.ingestion import is_transient as ingestion_transient
from tasks.retries import is_transient


def _mlflow_request(error: BaseException) -> BaseException:
    """What MLflow's HTTP client raises: an MlflowException raised while handling ``error``."""
    from mlflow.exceptions import MlflowException

    try:
        try:
            raise error
        except Exception as exc:
            raise MlflowException(f"API request failed with exception {exc}")  # noqa: B904
    except MlflowException as raised:
        return raised


def _sqlite(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_sqlite("database is locked"), True),
        (_sqlite("unable to open database file"), False),
        (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")), False),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True),
        (LockTimeoutError("waited 600 s"), True),
        (StoreUnavailableError("cannot reach the warehouse"), True),
        (StoreSetupError("CHURN_HOME is a file"), False),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/x"), False),
        (FileNotFoundError(errno.ENOENT, "No such file", "/x"), False),
        (PermissionError(errno.EACCES, "denied", "/x"), False),
        (ValueError("bad config"), False),
        (ArtifactError("reference/profile.json", model="m", version="1", reason="cut"), False),
        (_mlflow_request(requests.ConnectionError("refused")), True),
        (_mlflow_request(requests.ReadTimeout("timed out")), True),
        (_mlflow_request(ValueError("bad JSON from the server")), False),
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_ingestion_contract_violations_are_never_transient() -> None:
    assert not ingestion_transient(SchemaMismatchError("crm", "file x", ["plan"], []))
    assert ingestion_transient(_sqlite("database is locked"))


def test_retry_if_retries_nothing_in_a_command_started_from_a_terminal() -> None:
    from prefect.states import Failed

    from core.cli import fail_fast
    from tasks.retries import retry_if

    state = Failed(data=StoreUnavailableError("cannot reach the warehouse"))
    condition = retry_if()
    assert condition(None, None, state)  # a worker's run: transient, retried
    with fail_fast():
        assert not condition(None, None, state)
    assert condition(None, None, state)  # the flag ends with the command
