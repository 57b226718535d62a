"""Evidently reports: data drift, prediction drift, data quality, model performance.

``import evidently`` takes seconds, so it happens here, inside the functions, and only when a
report is built. Inputs are (sampled) frames; outputs are Evidently snapshots, which the caller
saves as HTML and adds to the workspace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

TOP_FRACTION = 0.10


def _definition(numeric: Sequence[str], categorical: Sequence[str], **kwargs: Any) -> Any:
    from evidently import DataDefinition

    return DataDefinition(
        numerical_columns=list(numeric), categorical_columns=list(categorical), **kwargs
    )


def _dataset(frame: pd.DataFrame, definition: Any) -> Any:
    from evidently import Dataset

    return Dataset.from_pandas(frame, data_definition=definition)


def drift_report(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    score_column: str,
    timestamp: datetime,
    metadata: Mapping[str, str],
    tags: Sequence[str],
) -> Any:
    """DataDriftPreset over the features, ValueDrift of the score, and the row count."""
    from evidently import Report
    from evidently.metrics import RowCount, ValueDrift
    from evidently.presets import DataDriftPreset

    features = [*numeric, *categorical]
    definition = _definition([*numeric, score_column], categorical)
    report = Report(
        [DataDriftPreset(columns=features), ValueDrift(column=score_column), RowCount()],
        metadata=dict(metadata),
        tags=[*tags, "drift"],
    )
    return report.run(
        _dataset(current, definition), _dataset(reference, definition), timestamp=timestamp
    )


def quality_report(
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    timestamp: datetime,
    metadata: Mapping[str, str],
    tags: Sequence[str],
) -> Any:
    """DataSummaryPreset: missing values, ranges, distinct values per column."""
    from evidently import Report
    from evidently.presets import DataSummaryPreset

    report = Report([DataSummaryPreset()], metadata=dict(metadata), tags=[*tags, "quality"])
    return report.run(
        _dataset(current, _definition(numeric, categorical)), None, timestamp=timestamp
    )


def performance_report(
    labelled: pd.DataFrame,
    *,
    target: str,
    score_column: str,
    timestamp: datetime,
    metadata: Mapping[str, str],
    tags: Sequence[str],
) -> Any:
    """ROC-AUC, log loss, and precision and recall (= capture) among the riskiest 10%
    (``k`` = the top tenth of the labelled predictions)."""
    from evidently import BinaryClassification, Report
    from evidently.metrics import LogLoss, Precision, Recall, RocAuc

    k = max(1, math.ceil(TOP_FRACTION * len(labelled)))
    definition = _definition(
        [score_column],
        [target],
        classification=[
            BinaryClassification(target=target, prediction_probas=score_column, pos_label=1)
        ],
    )
    report = Report(
        [RocAuc(), LogLoss(), Precision(k=k), Recall(k=k)],
        metadata=dict(metadata),
        tags=[*tags, "performance"],
    )
    return report.run(_dataset(labelled, definition), None, timestamp=timestamp)
