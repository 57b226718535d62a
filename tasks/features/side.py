"""A second feature session in a process of its own, for training-size retrievals.

One database connection answers one query at a time. While the main session builds the running
totals (a pass over every billing event: ~13 s at 100k customers on SQLite) and reads them, the
queries that do not need them (CRM, helpdesk) run in a side process on a session of their own:
both CPU cores work. A process, not a thread: two SQLite connections in one process slowed each
other to the sum of their times (SQLite's global allocator mutex), and a process started with
``spawn`` from ``multiprocessing`` would re-import the caller's ``__main__``.

Both sessions read the same data: on PostgreSQL the side session adopts the main session's
exported snapshot; on SQLite, which has no such thing, each compares its ``data_fingerprint``
(every ingestion commit changes it) and a side session that sees other data returns nothing, so
the main session runs those queries itself.

Protocol: the parent pickles the request to a file in its temporary folder under
``$CHURN_HOME/tmp`` (``core.tmp``; the warehouse URL goes through the environment), starts
``python -m tasks.features.side REQUEST RESULT`` and goes on; the child pickles its columns (or
None) to RESULT.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.tmp import temporary_directory
from tasks.features.fetch import SourceSQL

URL_ENV = "CHURN_SIDE_DATABASE_URL"  # the warehouse URL (with its password): never in a file


@dataclass(frozen=True)
class SideRequest:
    """What the side session needs: which snapshot, which rows, which queries (the warehouse
    URL goes through the child's environment, ``URL_ENV``)."""

    snapshot: str | None
    fingerprint: tuple[object, ...]
    ids: np.ndarray
    moments: np.ndarray
    sources: Sequence[SourceSQL]


class SideSession:
    """A running side process; ``result()`` waits for its columns (None: it saw other data)."""

    def __init__(self, request: SideRequest, *, url: str) -> None:
        self._dir = temporary_directory("churn-features-")
        folder = Path(self._dir.name)
        self._request, self._result = folder / "request.pkl", folder / "result.pkl"
        self._log = folder / "stderr.log"
        with self._request.open("wb") as out:
            pickle.dump(request, out, protocol=pickle.HIGHEST_PROTOCOL)
        # The project's root on the path: the child imports this package wherever it runs.
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        module = "tasks.features.side"
        command = [sys.executable, "-m", module, str(self._request), str(self._result)]
        with self._log.open("wb") as err:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "PYTHONPATH": path, URL_ENV: url},
            )

    def result(self) -> dict[str, np.ndarray] | None:
        """The side session's columns, or None if it read another snapshot; raises if it failed."""
        try:
            code = self._process.wait()
            if code != 0:
                tail = self._log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the side feature session failed (exit code {code}):\n{tail}")
            with self._result.open("rb") as handle:
                values: dict[str, np.ndarray] | None = pickle.load(handle)
            return values
        finally:
            self._dir.cleanup()

    def cancel(self) -> None:
        """Stop the side process (the main session failed) and remove its files."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._dir.cleanup()


def run_side_session(request: SideRequest, url: str) -> dict[str, np.ndarray] | None:
    """In the side process: upload the entity rows, check the snapshot, run the queries."""
    from core.db import make_engine
    from tasks.features.fetch import fetch_columns
    from tasks.features.session import data_fingerprint, feature_session, upload_entities

    engine = make_engine(url)
    values: dict[str, np.ndarray] = {}
    try:
        with feature_session(engine, discard=True, snapshot=request.snapshot) as conn:
            upload_entities(conn, request.ids, request.moments)
            if data_fingerprint(conn) != request.fingerprint:
                return None
            for source in request.sources:
                values.update(fetch_columns(conn, source, len(request.ids)))
    finally:
        engine.dispose()
    return values


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tasks.features.side REQUEST RESULT`` (started by ``SideSession`` only)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] in {"-h", "--help"}:
        print(
            "usage: python -m tasks.features.side REQUEST RESULT\n"
            "Internal: the side feature session of a training retrieval "
            "(tasks/features/side.py); not meant to be run by hand.",
            file=sys.stderr,
        )
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    with open(args[0], "rb") as handle:
        request: Any = pickle.load(handle)
    values = run_side_session(request, os.environ[URL_ENV])
    with open(args[1], "wb") as out:
        pickle.dump(values, out, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
