"""Ingest an events source: the event log and the subscriptions file, checked row by row.

The files are the source's full history, so a load replaces the source's events and
subscriptions in one transaction (reloading a corrected file replaces what the last load wrote).
Identical duplicate rows are collapsed and counted; subscriptions that share (id, start) but
disagree are quarantined, all of them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert

from core.names import utc_now
from core.tables import source_events, source_subscriptions
from tasks.owndata.reader import find_columns, read_text_table
from tasks.owndata.spec import SourceSpec, SpecError
from tasks.owndata.store import OwnIngestResult, Reason, finish_run, quarantine_rows, save_contract

log = logging.getLogger(__name__)
_INSERT_CHUNK = 5_000
MAX_EVENT_TYPES = 20


def _times(text: pd.Series) -> pd.Series:
    """Parsed timestamps as naive UTC (NaT where blank or unreadable)."""
    parsed = pd.to_datetime(text.where(text != "", None), errors="coerce", utc=True, format="mixed")
    return parsed.dt.tz_convert(None).astype("datetime64[us]")


def _fail(
    frame: pd.DataFrame, mask: pd.Series, column: str, check: str, out: dict[int, list[Reason]]
) -> None:
    for label in frame.index[mask.to_numpy()]:
        out.setdefault(int(label), []).append(
            {"column": column, "check": check, "value": str(frame.at[label, column])}
        )


def _check_ids(frame: pd.DataFrame, column: str, where: str) -> None:
    blank = np.flatnonzero((frame[column] == "").to_numpy())
    if len(blank):
        rows = ", ".join(str(i + 2) for i in blank[:5])
        raise SpecError(
            f"{where}: id column {column!r} is empty in {len(blank)} row(s) (file lines {rows});"
            " every row needs an id"
        )


def prepare_events(spec: SourceSpec) -> dict[str, Any]:
    """Read and check both files; nothing is written. SpecError when a file is unusable."""
    if not spec.event_time or not spec.event_type or spec.subscriptions is None:
        raise SpecError(
            f"{spec.name}: source is kind {spec.kind}, not events (it declares no event_time, "
            "event_type and subscriptions); read it with prepare_snapshot, or check_source, "
            "which picks the reader by kind"
        )
    where = f"{spec.name}: file {spec.file!r}"
    events = read_text_table(spec.resolve(spec.file), what=f"{spec.name}: file")
    roles = {"id": spec.id, "event_time": spec.event_time, "event_type": spec.event_type}
    if spec.value:
        roles["value"] = spec.value
    cols = find_columns(events, roles, where=where)
    sub = spec.subscriptions
    sub_where = f"{spec.name}: subscriptions file {sub.file!r}"
    subs = read_text_table(spec.resolve(sub.file), what=f"{spec.name}: subscriptions file")
    sub_cols = find_columns(
        subs,
        {
            "subscriptions.id": sub.id or spec.id,
            "subscriptions.start": sub.start,
            "subscriptions.end": sub.end,
        },
        where=sub_where,
    )
    _check_ids(events, cols["id"], where)
    _check_ids(subs, sub_cols["subscriptions.id"], sub_where)

    events = events[list(cols.values())]
    unique = events.loc[~events.duplicated(keep="first")]
    reasons: dict[int, list[Reason]] = {}
    when = _times(unique[cols["event_time"]])
    _fail(unique, when.isna(), cols["event_time"], "timestamp", reasons)
    kind = unique[cols["event_type"]]
    _fail(unique, (kind == "") | (kind.str.len() > 64), cols["event_type"], "event_type", reasons)
    value = pd.Series(np.nan, index=unique.index)
    if "value" in cols:
        text = unique[cols["value"]]
        value = pd.to_numeric(text.where(text != "", None), errors="coerce")
        _fail(unique, value.isna() & (text != ""), cols["value"], "numeric", reasons)
    ok = ~unique.index.isin(list(reasons))
    typed_events = pd.DataFrame(
        {"customer_id": unique[cols["id"]], "event_time": when, "event_type": kind, "value": value}
    ).loc[ok]

    subs = subs[list(sub_cols.values())]
    sub_unique = subs.loc[~subs.duplicated(keep="first")]
    sub_reasons: dict[int, list[Reason]] = {}
    start = _times(sub_unique[sub_cols["subscriptions.start"]])
    end_text = sub_unique[sub_cols["subscriptions.end"]]
    end = _times(end_text)
    _fail(sub_unique, start.isna(), sub_cols["subscriptions.start"], "timestamp", sub_reasons)
    _fail(
        sub_unique,
        end.isna() & (end_text != ""),
        sub_cols["subscriptions.end"],
        "timestamp",
        sub_reasons,
    )
    _fail(sub_unique, end < start, sub_cols["subscriptions.end"], "end_before_start", sub_reasons)
    key = sub_unique[sub_cols["subscriptions.id"]] + "\x00" + start.astype(str)
    _fail(
        sub_unique,
        key.duplicated(keep=False),
        sub_cols["subscriptions.id"],
        "conflicting_duplicate",
        sub_reasons,
    )
    sub_ok = ~sub_unique.index.isin(list(sub_reasons))
    typed_subs = pd.DataFrame(
        {
            "customer_id": sub_unique[sub_cols["subscriptions.id"]],
            "started_at": start,
            "ended_at": end,
        }
    ).loc[sub_ok]
    return {
        "events": (unique, typed_events, reasons, len(events) - len(unique)),
        "subscriptions": (sub_unique, typed_subs, sub_reasons, len(subs) - len(sub_unique)),
    }


def _records(frame: pd.DataFrame, **constant: Any) -> list[dict[str, Any]]:
    objects = frame.astype(object).where(frame.notna(), None)
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in objects.to_dict("records")
    ]
    for row in rows:
        for k, v in row.items():
            if isinstance(v, pd.Timestamp):
                row[k] = v.to_pydatetime()
        row.update(constant)
    return rows


def ingest_events(spec: SourceSpec, *, engine: Engine) -> OwnIngestResult:
    """Replace the source's events and subscriptions with the checked rows of its files."""
    started = utc_now()
    prepared = prepare_events(spec)
    ev_raw, ev, ev_reasons, ev_dups = prepared["events"]
    sub_raw, subs, sub_reasons, sub_dups = prepared["subscriptions"]
    run_id = str(uuid.uuid4())
    ev_rows = _records(ev, source=spec.name, run_id=run_id)
    sub_rows = _records(subs, source=spec.name, run_id=run_id)
    stamps = [ev["event_time"].max(), subs["started_at"].max(), subs["ended_at"].max()]
    valid = [s for s in stamps if not pd.isna(s)]
    watermark = max(valid).to_pydatetime() if valid else None
    with engine.begin() as conn:
        gone = 0
        for table in (source_events, source_subscriptions):
            gone += conn.execute(delete(table).where(table.c.source == spec.name)).rowcount or 0
        for rows, table in ((ev_rows, source_events), (sub_rows, source_subscriptions)):
            for i in range(0, len(rows), _INSERT_CHUNK):
                conn.execute(insert(table), rows[i : i + _INSERT_CHUNK])
        quarantine_rows(conn, source=spec.name, run_id=run_id, frame=ev_raw, reasons=ev_reasons)
        quarantine_rows(conn, source=spec.name, run_id=run_id, frame=sub_raw, reasons=sub_reasons)
        # the most frequent types get features; rarer ones are stored but not featurized
        types = ev["event_type"].value_counts().index[:MAX_EVENT_TYPES].tolist()
        save_contract(
            conn,
            spec=spec,
            contract={
                "event_types": types,
                "has_value": bool(spec.value),
                "horizon_days": spec.horizon_days,
            },
        )
        result = OwnIngestResult(
            source=spec.name,
            run_id=run_id,
            rows_read=len(ev_raw) + ev_dups + len(sub_raw) + sub_dups,
            rows_loaded=len(ev_rows) + len(sub_rows),
            rows_quarantined=len(ev_reasons) + len(sub_reasons),
            duplicates=ev_dups + sub_dups,
            replaced=gone,
            watermark=watermark,
        )
        finish_run(conn, result, started_at=started)
    if gone:
        log.info("%s: reload replaced %d earlier event/subscription rows", spec.name, gone)
    log.info(
        "%s: read %d rows, loaded %d events + %d subscriptions, quarantined %d, %d duplicate(s)",
        spec.name,
        result.rows_read,
        len(ev_rows),
        len(sub_rows),
        result.rows_quarantined,
        result.duplicates,
    )
    return result
