"""The replay's timeline: one row per simulated week, as a table, markdown and a plot.

Every column but ``wall_s`` is a function of the seed and the options, so two replays with the
same ones give the same rows (``timeline_rows`` leaves the wall-clock column out for that diff).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

WALL_CLOCK_COLUMNS = ("wall_s",)


@dataclass(frozen=True)
class WeekRow:
    """What happened in one simulated week."""

    week: int
    until: datetime  # simulated time: the exports are revealed up to it; the clock reads it
    data_as_of: str  # the warehouse watermark the online features were built at
    drift_share: float | None  # share of drifted features in the week's served predictions
    drift: bool
    roc_auc: float | None  # on predictions whose label horizon has elapsed
    labelled: int
    served: str  # model versions the API answered with ("3", or "3,4" during a switch)
    champion: str  # the champion at the end of the week
    requests: int
    failed: int
    retrain_requested: bool
    decision: str  # the monitoring decision's reason, then the gate's if a retrain ran
    wall_s: float


def week_ends(start: datetime, end: datetime) -> list[datetime]:
    """The end of every whole simulated week from ``start`` up to ``end``."""
    moments, moment = [], start + timedelta(days=7)
    while moment <= end:
        moments.append(moment)
        moment += timedelta(days=7)
    return moments


def timeline_rows(rows: list[WeekRow]) -> list[dict[str, Any]]:
    """The rows as dicts without the wall-clock columns: what the same seed reproduces."""
    return [{k: v for k, v in asdict(row).items() if k not in WALL_CLOCK_COLUMNS} for row in rows]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}"
    return str(value).replace("|", "/").replace("\n", " ")


def timeline_markdown(rows: list[WeekRow], *, title: str) -> str:
    """A markdown table of the weeks (the Prefect artifact ``replay-timeline``)."""
    names = [f.name for f in fields(WeekRow)]
    lines = [f"# {title}", "", "| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(getattr(row, n)) for n in names) + " |")
    return "\n".join(lines) + "\n"


def plot_timeline(rows: list[WeekRow], path: Path, *, drift_from: datetime | None) -> Path:
    """Drift share, ROC-AUC and the served version per week, with retrains marked, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks = [row.until for row in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(weeks, [_nan(r.drift_share) for r in rows], marker="o", label="drift share")
    top.plot(weeks, [_nan(r.roc_auc) for r in rows], marker="s", label="ROC-AUC (labelled)")
    for row in rows:
        if row.retrain_requested:
            top.axvline(row.until, color="tab:red", linestyle=":", alpha=0.7)
    if drift_from is not None:
        top.axvspan(drift_from, weeks[-1], color="tab:orange", alpha=0.08, label="drift scenario")
    top.set_ylim(0, 1)
    top.legend(loc="lower left")
    top.set_title("replay: drift, performance and retrain requests (red) per simulated week")
    bottom.step(weeks, [_version(r.served) for r in rows], where="post", label="served")
    bottom.step(weeks, [_version(r.champion) for r in rows], where="post", label="champion")
    bottom.set_ylabel("model version")
    bottom.legend(loc="upper left")
    fig.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _version(text: str) -> float:
    """The newest version in a served list ("3,4" → 4), NaN when none answered."""
    numbers = [int(part) for part in text.split(",") if part.isdigit()]
    return float(max(numbers)) if numbers else float("nan")
