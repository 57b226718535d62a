"""An event source's own ``horizon_days`` drives its out-of-time training: the purge gaps between
its train, validation and holdout cutoffs, and the horizon its MLflow run records. Real
warehouse and MLflow store; the plain functions the declare flow's tasks wrap (Prefect: the
registry lock)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from mlflow import MlflowClient

from core.db import make_engine
from core.names import (
    TAG_CUTOFFS_HOLDOUT,
    TAG_CUTOFFS_TRAIN,
    TAG_CUTOFFS_VALIDATION,
    TAG_HORIZON_DAYS,
    TAG_TRAINED_THROUGH,
)
from core.settings import get_settings
from core.stores import prepare_stores
from tasks.declared.pipeline import build_training_frame, ingest_source
from tasks.declared.spec import SpecError, load_spec
from tasks.declared.steps import train_spec_task
from tests.declared.files import EVENTS_SPEC, NOT_THE_BASELINE, write_events, write_spec

SETTING = 30  # CHURN_HORIZON_DAYS in this test
HORIZON = 60  # the spec's: longer than the setting


def _dates(tag: str) -> list[date]:
    return [date.fromisoformat(d) for d in tag.split(",")]


def test_train_spec_task_events_purges_gaps_of_the_spec_horizon(
    tmp_path: Path, churn_home: Path, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURN_HORIZON_DAYS", str(SETTING))
    get_settings.cache_clear()
    write_events(tmp_path, customers=300)
    spec = load_spec(write_spec(tmp_path, {**EVENTS_SPEC, "horizon_days": HORIZON}))
    prepare_stores()
    engine = make_engine(get_settings().database_url)
    try:
        ingest_source(spec, engine=engine)
        frame, features = build_training_frame(spec, engine=engine)
    finally:
        engine.dispose()
    summary = train_spec_task.fn(
        spec, frame, features, min_auc=0.501, tolerance=0.05, min_baseline_gain=NOT_THE_BASELINE
    )

    uri = get_settings().mlflow_tracking_uri
    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_run(summary["run_id"]).data.tags
    assert tags[TAG_HORIZON_DAYS] == str(HORIZON)
    train = _dates(tags[TAG_CUTOFFS_TRAIN])
    valid = _dates(tags[TAG_CUTOFFS_VALIDATION])
    holdout = date.fromisoformat(tags[TAG_CUTOFFS_HOLDOUT])
    gap = timedelta(days=HORIZON)
    # a label at cutoff c looks at (c, c + horizon]: it must end before the next partition
    assert max(train) + gap <= min(valid), (train, valid)
    # ten months of history: weekly cutoffs by default, a dozen train cutoffs and more
    assert all((b - a).days == 7 for a, b in pairwise(train)) and len(train) >= 12
    assert max(valid) + gap <= holdout, (valid, holdout)
    assert tags[TAG_TRAINED_THROUGH] == f"{max(valid) + gap}T00:00:00"


def test_build_training_frame_too_short_for_the_purge_gaps_is_a_spec_error(
    tmp_path: Path, churn_home: Path
) -> None:
    write_events(tmp_path, customers=60)  # ten months: seven cutoffs with a 150-day horizon
    spec = load_spec(write_spec(tmp_path, {**EVENTS_SPEC, "horizon_days": 150}))
    prepare_stores(tracking=False)
    engine = make_engine(get_settings().database_url)
    try:
        ingest_source(spec, engine=engine)
        with pytest.raises(SpecError, match=r"shop: .* 150-day purge gap") as error:
            build_training_frame(spec, engine=engine)
    finally:
        engine.dispose()
    assert "lower the horizon" in str(error.value)


def test_declared_training_takes_the_one_path_its_clock_and_row_budget(
    tmp_path: Path, churn_home: Path
) -> None:
    """A declared event log's training set is read by the built-in ``read_training_set``: the
    source's watermark refuses cutoffs whose horizon has not elapsed (naming the source), and the
    train cutoffs' negatives are sampled under a row budget like the built-in model's."""
    from datetime import datetime

    from tasks.modeldata.declared import declared_data
    from tasks.training import read_training_set
    from tasks.training.sampling import WEIGHT, sample_of

    write_events(tmp_path, customers=300)
    spec = load_spec(write_spec(tmp_path, EVENTS_SPEC))
    prepare_stores(tracking=False)
    engine = make_engine(get_settings().database_url)
    try:
        ingest_source(spec, engine=engine)
        data = declared_data(spec.model_name, engine=engine)
        assert data is not None
        cutoffs = data.cutoffs(horizon_days=30, engine=engine)
        watermark = data.watermark(engine=engine)
        assert watermark is not None and cutoffs[-1] + timedelta(days=30) <= watermark
        late = datetime(watermark.year, watermark.month, 1)
        with pytest.raises(ValueError, match=r"after source 'shop'.s watermark"):
            read_training_set(data, engine=engine, horizon_days=30, cutoffs=[*cutoffs, late])
        full = read_training_set(data, engine=engine, horizon_days=30, max_train_rows=0)
        budget = read_training_set(data, engine=engine, horizon_days=30, max_train_rows=200)
    finally:
        engine.dispose()
    assert sample_of(full).negative_rate == 1 > sample_of(budget).negative_rate
    assert len(budget) < len(full) and budget["label"].sum() == full["label"].sum()
    assert set(full.columns) >= {"customer_id", "as_of", "label", WEIGHT, *data.dtypes}
