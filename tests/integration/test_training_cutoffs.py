"""Cutoffs on a simulated, ingested warehouse: a lagging source limits them, and the purge gap
keeps every cancellation inside one partition."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from simulator import SimConfig, simulate
from tasks.features.clock import data_reach
from tasks.ingestion import Window, ingest_source
from tasks.labels import available_cutoffs, check_label_rates
from tasks.training import read_training_set, rows_at, split_cutoffs
from tasks.training.fit import split_training_set
from tasks.training.sampling import WEIGHT, sample_of


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    simulate(SimConfig(customers=800, months=9, seed=11), folder)  # Jan .. Sep 2024
    return folder


@pytest.fixture
def crm_lagging(engine: Engine, sources: Path) -> Iterator[Engine]:
    """Billing and helpdesk through September, the CRM export only through May."""
    ingest_source("billing", engine=engine, source_dir=sources)
    ingest_source("helpdesk", engine=engine, source_dir=sources)
    ingest_source("crm", engine=engine, source_dir=sources, window=Window(end=datetime(2024, 5, 1)))
    yield engine


def test_a_lagging_source_limits_the_cutoffs_and_is_named(crm_lagging: Engine) -> None:
    reach = data_reach(engine=crm_lagging)
    assert reach.lagging == ("crm", datetime(2024, 6, 1))  # the May file covers May
    assert available_cutoffs(engine=crm_lagging, horizon_days=30)[-1] == datetime(2024, 5, 1)
    with pytest.raises(ValueError, match=r"source 'crm'.s committed watermark 2024-06-01"):
        read_training_set(
            engine=crm_lagging,
            horizon_days=30,
            cutoffs=[datetime(2024, 5, 1), datetime(2024, 7, 1)],
        )


def _rates(*cutoffs: tuple[str, int, int]) -> pd.DataFrame:
    """Labels of (cutoff, rows, churners) triples."""
    return pd.DataFrame(
        {
            "as_of": pd.to_datetime([c for c, n, _ in cutoffs for _ in range(n)]),
            "label": [int(i < k) for _, n, k in cutoffs for i in range(n)],
        }
    )


def test_a_cutoff_with_no_churner_is_an_error() -> None:
    labels = _rates(("2024-02-01", 400, 20), ("2024-03-01", 400, 20), ("2024-04-01", 400, 0))
    with pytest.raises(ValueError, match=r"2024-04-01 \(rate 0.0000"):
        check_label_rates(labels)
    check_label_rates(labels[labels["as_of"] < "2024-04-01"])  # the healthy ones pass
    low = _rates(("2024-02-01", 400, 20), ("2024-03-01", 400, 20), ("2024-04-01", 400, 3))
    with pytest.raises(ValueError, match=r"2024-04-01 \(rate 0.0075"):  # < a quarter of 5 %
        check_label_rates(low)


def test_a_small_cutoff_without_churners_is_chance_not_lag() -> None:
    # 40 rows at the others' 5 % expect 2 churners: none is likely (13 %), not a lagging source
    labels = _rates(("2024-02-01", 40, 0), ("2024-03-01", 400, 20), ("2024-04-01", 400, 20))
    assert check_label_rates(labels).iloc[0] == 0
    big = _rates(("2024-02-01", 200, 0), ("2024-03-01", 400, 20), ("2024-04-01", 400, 20))
    with pytest.raises(ValueError, match="2024-02-01"):  # 10 expected, none seen: suspect
        check_label_rates(big)


def test_no_cancellation_labels_two_partitions(engine: Engine, sources: Path) -> None:
    for name in ("crm", "billing", "helpdesk"):
        ingest_source(name, engine=engine, source_dir=sources)
    frame = read_training_set(engine=engine, horizon_days=60, max_cutoffs=None)
    split = split_training_set(frame, horizon_days=60, n_valid=1)  # the split training uses
    assert split.purged  # monthly cutoffs a horizon apart: some must sit out
    assert not frame["as_of"].isin(split.purged).any()  # and get no features
    positives = {
        part: set(rows_at(frame, cut).query("label == 1")["customer_id"])
        for part, cut in (
            ("train", split.train),
            ("valid", split.valid),
            ("holdout", [split.holdout]),
        )
    }
    assert all(positives.values())  # every partition has churners
    for (a, left), (b, right) in itertools.combinations(positives.items(), 2):
        assert not left & right, (
            f"customers positive in both {a} and {b}: {sorted(left & right)[:5]}"
        )


def test_row_budget_samples_train_negatives_only(engine: Engine, sources: Path) -> None:
    for name in ("crm", "billing", "helpdesk"):
        ingest_source(name, engine=engine, source_dir=sources)
    full = read_training_set(engine=engine, horizon_days=30, max_cutoffs=None, max_train_rows=0)
    budget = read_training_set(
        engine=engine, horizon_days=30, max_cutoffs=None, max_train_rows=1500
    )
    split = split_cutoffs(list(full["as_of"].drop_duplicates()), horizon_days=30)
    train_full, train_budget = rows_at(full, split.train), rows_at(budget, split.train)
    assert len(train_full) > 1500 >= len(train_budget) - 150
    assert train_budget["label"].sum() == train_full["label"].sum()  # every churner kept
    assert sample_of(budget).negative_rate < 1 == sample_of(full).negative_rate
    # the rows kept carry the same features as in the full set
    keys = ["customer_id", "as_of"]
    merged = train_budget.merge(train_full, on=keys, suffixes=("", "_full"))
    assert len(merged) == len(train_budget)
    pd.testing.assert_series_equal(merged["spend_90d"], merged["spend_90d_full"], check_names=False)
    pd.testing.assert_frame_equal(  # the holdout is never sampled
        rows_at(budget, [split.holdout]).drop(columns=WEIGHT).reset_index(drop=True),
        rows_at(full, [split.holdout]).drop(columns=WEIGHT).reset_index(drop=True),
    )
    valid_full, valid_budget = rows_at(full, split.valid), rows_at(budget, split.valid)
    assert valid_budget["label"].sum() == valid_full["label"].sum()
    assert len(valid_budget) < len(valid_full)
