"""Evaluation plots as PNG files: ROC, precision-recall, calibration and feature importance.

Figures are built with ``matplotlib.figure.Figure`` directly (Agg canvas, no pyplot global state),
so plotting is headless and safe to run in parallel threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from tasks.training.evaluation import check_holdout


def _new_figure(width: float = 5.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="tight")
    FigureCanvasAgg(fig)
    return fig


def plot_roc(y_true: np.ndarray, scores: np.ndarray, *, auc: float) -> Figure:
    """ROC curve with the chance diagonal."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC — holdout")
    ax.legend(loc="lower right")
    return fig


def plot_pr(y_true: np.ndarray, scores: np.ndarray, *, pr_auc: float) -> Figure:
    """Precision-recall curve with the base-rate line."""
    precision, recall, _ = precision_recall_curve(y_true, scores)
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(recall, precision, label=f"model (AP = {pr_auc:.3f})")
    ax.axhline(float(np.mean(y_true)), linestyle="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall — holdout")
    ax.legend(loc="upper right")
    return fig


def plot_calibration(y_true: np.ndarray, scores: np.ndarray, *, bins: int = 10) -> Figure:
    """Reliability curve (mean predicted vs observed churn rate per score quantile)."""
    observed, predicted = calibration_curve(y_true, scores, n_bins=bins, strategy="quantile")
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set(xlabel="mean predicted probability", ylabel="observed churn rate")
    ax.set_title("Calibration — holdout")
    ax.legend(loc="upper left")
    return fig


def plot_importance(importance: Mapping[str, float], *, top: int = 20) -> Figure:
    """Horizontal bars of total gain for the ``top`` features."""
    ranked = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top]
    names = [name for name, _ in reversed(ranked)]
    values = [value for _, value in reversed(ranked)]
    fig = _new_figure(6.0, 0.3 * len(ranked) + 1.5)
    ax = fig.add_subplot()
    ax.barh(names, values)
    ax.set(xlabel="total gain", title="Feature importance (gain)")
    return fig


def write_plots(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    metrics: Mapping[str, float],
    importance: Mapping[str, float],
    out_dir: Path,
) -> list[Path]:
    """Render the four evaluation plots into ``out_dir`` and return their paths."""
    y = np.asarray(y_true, dtype="int64")
    s = np.asarray(scores, dtype="float64")
    check_holdout(y, s)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "roc.png": plot_roc(y, s, auc=metrics["roc_auc"]),
        "pr.png": plot_pr(y, s, pr_auc=metrics["pr_auc"]),
        "calibration.png": plot_calibration(y, s),
        "feature_importance.png": plot_importance(importance),
    }
    paths = []
    for filename, fig in figures.items():
        path = out_dir / filename
        fig.savefig(path, format="png")
        paths.append(path)
    return paths
