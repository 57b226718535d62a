"""Check a declared source's file(s) completely without writing anything.

Run first by ``make table`` and the ``table`` flow, so that a missing column, an empty id, an
unexpected label value or a missing file is one line naming the problem, before any write.
"""

from __future__ import annotations

from tasks.owndata.ingest_events import prepare_events
from tasks.owndata.ingest_snapshot import prepare_snapshot
from tasks.owndata.spec import SourceSpec


def check_source(spec: SourceSpec) -> None:
    """Raise SpecError when the spec's data cannot be ingested."""
    if spec.kind == "snapshot":
        prepare_snapshot(spec)
    else:
        prepare_events(spec)
