"""Small declared-source files the tests make themselves, in both shapes, and their specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simulator.tables import event_log, telco_table

# For tests not about the first-model gate: on these small tables a logistic regression often
# beats XGBoost (tables of a few hundred customers), so they let the candidate trail it.
NOT_THE_BASELINE = -0.5

TELCO_SPEC: dict[str, Any] = {
    "name": "telco",
    "kind": "snapshot",
    "file": "telco.csv",
    "id": "CUSTOMERID",  # another case than the header: matched case-insensitively
    "label": "Churn",
    "positive": ["Yes"],
    "snapshot_date": "2024-06-30",
    "ignore": ["gender"],
}

EVENTS_SPEC: dict[str, Any] = {
    "name": "shop",
    "kind": "events",
    "file": "events/*.csv",
    "id": "user_id",
    "event_time": "ts",
    "event_type": "event",
    "value": "amount",
    "subscriptions": {"file": "subscriptions.csv", "start": "started", "end": "ended"},
}


def write_spec(folder: Path, document: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def write_telco(
    folder: Path, rows: int = 600, *, seed: int = 7, signal: float = 1.0
) -> pd.DataFrame:
    """A Telco-shaped table at ``folder/telco.csv``; returns it."""
    frame = telco_table(rows, seed=seed, signal=signal)
    frame.to_csv(folder / "telco.csv", index=False)
    return frame


def write_events(folder: Path, customers: int = 300, *, seed: int = 11) -> None:
    """An event log split over two files (a glob) and a subscriptions file."""
    events, subs = event_log(customers, months=10, seed=seed)
    (folder / "events").mkdir(exist_ok=True)
    half = len(events) // 2
    events.iloc[:half].to_csv(folder / "events" / "part-1.csv", index=False)
    events.iloc[half:].to_csv(folder / "events" / "part-2.csv", index=False)
    subs.to_csv(folder / "subscriptions.csv", index=False)
