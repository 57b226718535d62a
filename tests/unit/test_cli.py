"""core.cli.run_cli: one or two lines and a non-zero exit for errors, tracebacks on request."""

from __future__ import annotations

import argparse
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from core.cli import UsageError, describe_error, run_cli
from core.stores import StoreSetupError


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="churn-test")


def _fails(exc: BaseException):  # type: ignore[no-untyped-def]
    def body(_args: argparse.Namespace) -> int:
        raise exc

    return body


def test_run_cli_error_is_two_lines_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHURN_DEBUG", raising=False)
    code = run_cli(_fails(StoreSetupError("CHURN_HOME=x is a file, not a folder")), _parser(), [])
    err = [line.strip() for line in capsys.readouterr().err.strip().splitlines()]
    assert code == 1
    assert err == [
        "churn-test: CHURN_HOME=x is a file, not a folder",
        "(--verbose or CHURN_DEBUG=1 shows the traceback)",
    ]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_cli_verbose_shows_traceback(
    how: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--verbose"] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("CHURN_DEBUG", "1")
    code = run_cli(_fails(ValueError("bad thing")), _parser(), argv)
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1] == "churn-test: ValueError: bad thing"


def test_run_cli_usage_error_exits_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(
        _fails(UsageError("invalid parameter min_auc (--min-auc): too big")), _parser(), []
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, len(err)) == (2, 1)
    assert "min_auc (--min-auc)" in err[0]


def test_run_cli_success_returns_body_code() -> None:
    assert run_cli(lambda _a: None, _parser(), []) == 0
    assert run_cli(lambda _a: 3, _parser(), []) == 3


def test_describe_error_uses_driver_message_and_path_hints() -> None:
    wrapped = OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    assert describe_error(wrapped) == "OperationalError: database is locked"
    missing = NotADirectoryError(20, "Not a directory", "/tmp/file/x")
    assert describe_error(missing) == (
        "cannot use /tmp/file/x: part of that path is a file, not a folder; choose another path"
    )
    assert describe_error(ValueError("a\n  b")) == "ValueError: a b"


def test_fail_fast_sets_its_variables_for_the_command_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from core.cli import FAIL_FAST_ENV, fail_fast
    from core.settings import get_settings

    for key in FAIL_FAST_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "30")  # the environment's own value wins
    get_settings.cache_clear()
    with fail_fast():
        assert get_settings().fail_fast
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
        assert os.environ["PGCONNECT_TIMEOUT"] == "30"
    assert not get_settings().fail_fast
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert os.environ["PGCONNECT_TIMEOUT"] == "30"
