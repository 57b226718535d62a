"""tasks.retries.is_transient: only failures that time can fix are retried."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from core.locks import LockTimeoutError
from core.stores import StoreSetupError, StoreUnavailableError
from tasks.ingestion import SchemaMismatchError
from tasks.ingestion import is_transient as ingestion_transient
from tasks.retries import is_transient


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
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_ingestion_contract_violations_are_never_transient() -> None:
    assert not ingestion_transient(SchemaMismatchError("crm", "file x", ["plan"], []))
    assert ingestion_transient(_sqlite("database is locked"))
