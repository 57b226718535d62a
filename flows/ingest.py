"""Prefect flow ``ingest``: set up the stores, then load every source concurrently.

Each source is one coarse task (retried on transient errors, never on contract violations) that
records an ``ingestion_runs`` row and a table artifact. The flow waits for all sources and
fails afterwards if any failed, with each one's cause. CLI: ``python -m flows.ingest --help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from prefect import flow, unmapped
from prefect.futures import PrefectFuture, wait
from pydantic import AfterValidator
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.cli import describe_error, run_cli
from core.settings import get_settings
from ops.cli import flow_option, flow_parameters, run_flow
from ops.params import NaiveUtc
from tasks.ingestion import IngestionError, IngestionResult, list_sources
from tasks.ingestion.steps import ingest_source_task
from tasks.stores import prepare_stores_task

# Set by the CLI so that each source's task can drive a progress bar in the same process.
_progress: Progress | None = None


class IngestFlowError(IngestionError):
    """One or more sources failed; the others were loaded."""


def _known(names: list[str]) -> list[str]:
    known = list_sources()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"no ingestion source {', '.join(unknown)}; known: {', '.join(known)}")
    return names


SourceNames = Annotated[list[str], AfterValidator(_known)]


@flow(name="ingest")
def ingest(
    sources: SourceNames | None = None,
    source_dir: str | None = None,
    window_start: NaiveUtc | None = None,
    window_end: NaiveUtc | None = None,
) -> list[IngestionResult]:
    """Load ``sources`` (default: all) from ``source_dir`` (default: settings.sources_dir)."""
    prepare_stores_task(tracking=False)
    names = sources or list_sources()
    folder = source_dir or str(get_settings().sources_dir)
    futures = ingest_source_task.map(
        names,
        source_dir=unmapped(folder),
        window_start=unmapped(window_start),
        window_end=unmapped(window_end),
        on_chunk=unmapped(_progress_hook()),
    )
    wait(list(futures))
    failures = {
        name: _cause(name, future)
        for name, future in zip(names, futures, strict=True)
        if not future.state.is_completed()
    }
    if failures:
        detail = "; ".join(f"{name}: {cause}" for name, cause in failures.items())
        raise IngestFlowError(f"{len(failures)} of {len(names)} sources failed — {detail}")
    return [future.result() for future in futures]


def _cause(source: str, future: PrefectFuture[Any]) -> str:
    """The source's error in one line, without repeating the source's name."""
    state = future.state
    error = state.result(raise_on_failure=False) if state.is_failed() else None
    text = describe_error(error) if isinstance(error, BaseException) else (state.message or "")
    return text.removeprefix(f"{source}: ") or state.name or "not finished"


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.ingest",
        description="Load source exports into the warehouse through their contracts.",
    )
    flow_option(
        parser,
        ingest,
        "sources",
        nargs="+",
        choices=list_sources(),
        help="sources to load",
        when_none="all",
    )
    flow_option(
        parser, ingest, "source_dir", help="folder of the exports", when_none="$CHURN_HOME/sources"
    )
    flow_option(
        parser,
        ingest,
        "window_start",
        "--since",
        type=datetime.fromisoformat,
        metavar="MOMENT",
        help="window start, exclusive",
        when_none="each source's last watermark",
    )
    flow_option(
        parser,
        ingest,
        "window_end",
        "--until",
        type=datetime.fromisoformat,
        metavar="MOMENT",
        help="window end, inclusive",
        when_none="open",
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    """Run the flow with progress bars and print one line per source."""
    global _progress
    console = Console()
    parameters = flow_parameters(ingest, args)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        _progress = progress
        try:
            results: list[IngestionResult] = run_flow(ingest, parameters)
        finally:
            _progress = None
    table = Table("source", "read", "loaded", "quarantined", "watermark", "waited s", "seconds")
    for r in results:
        table.add_row(
            r.source,
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_quarantined:,}",
            str(r.watermark),
            f"{r.waited_s:.1f}",
            f"{r.seconds:.1f}",
        )
    console.print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
