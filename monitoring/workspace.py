"""The local Evidently workspace that ``evidently ui`` serves: one project per model, its
dashboard panels over time, and one snapshot per report per monitoring run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

_V2 = "evidently:metric_v2:"


def open_project(workspace_dir: Path, name: str) -> tuple[Any, Any]:
    """The workspace and the project ``name`` in it, created with its dashboard if missing."""
    from evidently.ui.workspace import Workspace

    workspace_dir.mkdir(parents=True, exist_ok=True)
    workspace = Workspace.create(str(workspace_dir))
    found = [p for p in workspace.search_project(name) if p.name == name]
    if found:
        return workspace, found[0]
    project = workspace.create_project(
        name, description=f"Monitoring of {name}: drift, data quality, performance (churn system)"
    )
    _add_panels(project)
    return workspace, project


def _add_panels(project: Any) -> None:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import counter_panel, line_plot_panel

    dashboard = project.dashboard
    dashboard.add_panel(
        counter_panel(
            title="Rows monitored (last run)",
            size="half",
            values=[PanelMetric(legend="rows", metric=f"{_V2}RowCount")],
            aggregation="last",
        )
    )
    dashboard.add_panel(
        counter_panel(
            title="Share of drifted features (last run)",
            size="half",
            values=[
                PanelMetric(
                    legend="share",
                    metric=f"{_V2}DriftedColumnsCount",
                    metric_labels={"value_type": "share"},
                )
            ],
            aggregation="last",
        )
    )
    dashboard.add_panel(
        line_plot_panel(
            title="Share of drifted features",
            values=[
                PanelMetric(
                    legend="share of drifted features",
                    metric=f"{_V2}DriftedColumnsCount",
                    metric_labels={"value_type": "share"},
                )
            ],
            size="half",
        )
    )
    dashboard.add_panel(
        line_plot_panel(
            title="Prediction drift (score distribution vs reference)",
            values=[
                PanelMetric(
                    legend="score drift",
                    metric=f"{_V2}ValueDrift",
                    metric_labels={"column": "score"},
                )
            ],
            size="half",
        )
    )
    dashboard.add_panel(
        line_plot_panel(
            title="ROC-AUC and capture in the riskiest 10% (labelled predictions)",
            values=[
                PanelMetric(legend="ROC-AUC", metric=f"{_V2}RocAuc"),
                PanelMetric(legend="capture@10%", metric=f"{_V2}Recall"),
            ],
            size="full",
        )
    )
    dashboard.add_panel(
        line_plot_panel(
            title="Rows monitored",
            values=[PanelMetric(legend="rows", metric=f"{_V2}RowCount")],
            size="full",
        )
    )


def add_snapshot(workspace: Any, project: Any, snapshot: Any, *, name: str) -> str:
    """Store a report run as a snapshot of the project; return its id."""
    ref = workspace.add_run(project.id, snapshot, include_data=False, name=name)
    return str(ref.id)


def remove_snapshots(workspace_dir: str | Path, project_name: str, ids: Iterable[str]) -> None:
    """Delete the project's snapshots ``ids`` (a window's earlier run, replaced by a rerun)."""
    workspace, project = open_project(Path(workspace_dir), project_name)
    for snapshot_id in ids:
        workspace.delete_run(project.id, snapshot_id)
