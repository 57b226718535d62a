"""Prefect flow ``ingest``: migrate the warehouse, then load every source concurrently.

Each source is one coarse task (retried on transient I/O errors, never on contract violations)
that records an ``ingestion_runs`` row and a table artifact. The flow waits for all sources and
fails afterwards if any failed. CLI: ``python -m flows.ingest --help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

from prefect import flow, unmapped
from prefect.futures import wait
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.settings import get_settings
from tasks.ingestion import IngestionError, IngestionResult, list_sources
from tasks.ingestion.steps import ingest_source_task, migrate_warehouse

# Set by the CLI so that each source's task can drive a progress bar in the same process.
_progress: Progress | None = None


class IngestFlowError(IngestionError):
    """One or more sources failed; the others were loaded."""


@flow(name="ingest")
def ingest(
    sources: list[str] | None = None,
    source_dir: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> list[IngestionResult]:
    """Load ``sources`` (default: all) from ``source_dir`` (default: settings.sources_dir)."""
    names = sources or list_sources()
    folder = source_dir or str(get_settings().sources_dir)
    migrated = migrate_warehouse.submit()
    futures = ingest_source_task.map(
        names,
        source_dir=unmapped(folder),
        window_start=unmapped(window_start),
        window_end=unmapped(window_end),
        on_chunk=unmapped(_progress_hook()),
        wait_for=[migrated],  # type: ignore[list-item]
    )
    wait(list(futures))
    failures = {
        name: future.state.result(raise_on_failure=False)
        for name, future in zip(names, futures, strict=True)
        if not future.state.is_completed()
    }
    if failures:
        detail = "; ".join(f"{name}: {error}" for name, error in failures.items())
        raise IngestFlowError(f"{len(failures)} of {len(names)} sources failed — {detail}")
    return [future.result() for future in futures]


def _progress_hook() -> Callable[[str, int], None] | None:
    """Per-chunk callback updating the CLI's progress bars (None outside the CLI)."""
    progress = _progress
    if progress is None:
        return None
    bars: dict[str, TaskID] = {}

    def update(source: str, rows_read: int) -> None:
        if source not in bars:
            bars[source] = progress.add_task(source, total=None)
        progress.update(
            bars[source], completed=rows_read, description=f"{source}: {rows_read:,} rows"
        )

    return update


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flows.ingest",
        description="Load source exports into the warehouse through their contracts.",
    )
    parser.add_argument(
        "--sources", nargs="+", choices=list_sources(), help="sources to load (default: all)"
    )
    parser.add_argument("--source-dir", help="folder of the exports (default: $CHURN_HOME/sources)")
    parser.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="window start, exclusive (default: each source's last watermark)",
    )
    parser.add_argument(
        "--until", type=datetime.fromisoformat, help="window end, inclusive (default: open)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the flow with progress bars and print one line per source."""
    global _progress
    args = _parse_args(argv)
    console = Console()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        _progress = progress
        try:
            state = ingest(args.sources, args.source_dir, args.since, args.until, return_state=True)
        finally:
            _progress = None
    if state.is_completed():
        table = Table("source", "read", "loaded", "quarantined", "watermark", "seconds")
        for r in state.result():
            table.add_row(
                r.source,
                f"{r.rows_read:,}",
                f"{r.rows_loaded:,}",
                f"{r.rows_quarantined:,}",
                str(r.watermark),
                f"{r.seconds:.1f}",
            )
        console.print(table)
        return 0
    console.print(f"[red]ingest failed:[/red] {state.message}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
