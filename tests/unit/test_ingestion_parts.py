"""Registry, retry classification, write-behind and file naming."""

from __future__ import annotations

import gc
import threading
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from tasks.ingestion.base import Window
from tasks.ingestion.errors import (
    SchemaMismatchError,
    SourceFormatError,
    SourceNotFoundError,
    UnknownSourceError,
    is_transient,
)
from tasks.ingestion.files import file_period, period_files
from tasks.ingestion.pipeline import WriteBehind, fewer_gc_passes
from tasks.ingestion.registry import get_source, list_sources


def test_registry_lists_one_source_per_module() -> None:
    assert list_sources() == ["billing", "crm", "helpdesk"]
    assert get_source("billing").name == "billing"
    with pytest.raises(UnknownSourceError, match=r"sources/erp\.py"):
        get_source("erp")


def test_is_transient_retries_io_but_not_contract_errors() -> None:
    assert is_transient(OperationalError("select 1", {}, Exception("database is locked")))
    assert is_transient(ConnectionResetError())
    assert not is_transient(SchemaMismatchError("crm", "file x", ["monthly_charges"], []))
    assert not is_transient(SourceNotFoundError("no folder"))
    assert not is_transient(ValueError("bug"))


def test_file_period_and_window_filter(tmp_path: Path) -> None:
    for name in ("tickets_2024-01.jsonl", "tickets_2024-02.jsonl", "tickets_2024-03.jsonl"):
        (tmp_path / name).write_text("")
    window = Window(start=datetime(2024, 1, 1), end=datetime(2024, 2, 1))
    found = period_files(tmp_path, "tickets_*.jsonl", window, source="helpdesk")
    assert [p.name for _, p in found] == ["tickets_2024-02.jsonl"]
    with pytest.raises(SourceFormatError, match="YYYY-MM"):
        file_period(tmp_path / "tickets_jan.jsonl", source="helpdesk")
    with pytest.raises(SourceFormatError, match="month 13"):
        file_period(tmp_path / "tickets_2024-13.jsonl", source="helpdesk")
    with pytest.raises(SourceNotFoundError, match="simulator"):
        period_files(tmp_path / "absent", "*.jsonl", Window(), source="helpdesk")


def test_write_behind_runs_writes_in_order_and_reraises_their_errors() -> None:
    done: list[int] = []

    def write(n: int) -> None:
        if n == 3:
            raise OSError("write 3 failed")
        done.append(n)

    with pytest.raises(OSError, match="write 3 failed"), WriteBehind(overlap=True, name="t") as w:
        for n in range(1, 6):
            w.submit(partial(write, n))
    assert done == [1, 2]


def test_write_behind_lets_the_inflight_write_finish_when_the_caller_fails() -> None:
    finished = threading.Event()

    def slow_write() -> None:
        time.sleep(0.2)
        finished.set()

    with (
        pytest.raises(ValueError, match="reading failed"),
        WriteBehind(overlap=True, name="t") as w,
    ):
        w.submit(slow_write)
        raise ValueError("reading failed")
    assert finished.is_set()


def test_fewer_gc_passes_raises_threshold_and_restores_it_after_the_last_user() -> None:
    before = gc.get_threshold()
    first, second = fewer_gc_passes(), fewer_gc_passes()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] > before[0]
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] > before[0]  # the second load still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
