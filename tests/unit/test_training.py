import errno
from datetime import datetime, timedelta

import numpy as np
import pytest
from prefect.states import Failed
from sqlalchemy.exc import OperationalError

from models.estimator import predict_scores
from models.preprocessing import to_model_matrix
from tasks.training import CutoffSplit, is_transient_failure, rows_at, split_cutoffs, train_model
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set


def test_split_cutoffs_is_out_of_time() -> None:
    shuffled = [CUTOFFS[3], CUTOFFS[0], CUTOFFS[5], CUTOFFS[1], CUTOFFS[4], CUTOFFS[2]]
    split = split_cutoffs(shuffled, horizon_days=30)
    assert split == CutoffSplit(train=CUTOFFS[:4], valid=(CUTOFFS[4],), holdout=CUTOFFS[5])


def test_split_cutoffs_with_two_validation_cutoffs() -> None:
    split = split_cutoffs(CUTOFFS, horizon_days=30, n_valid=2)
    assert split.train == CUTOFFS[:3]
    assert split.valid == CUTOFFS[3:5]
    assert split.holdout == CUTOFFS[5]


def test_split_cutoffs_too_few_raises_listing_them() -> None:
    with pytest.raises(ValueError, match=r"2 cutoff\(s\) given .*2024-01-01.*30-day purge gap"):
        split_cutoffs(CUTOFFS[:2], horizon_days=30)


def test_split_cutoff_tags_name_every_cutoff() -> None:
    tags = split_cutoffs(CUTOFFS[:4], horizon_days=30).as_tags()
    assert tags == {
        "cutoffs.train": "2024-01-01",
        "cutoffs.validation": "2024-03-01",
        "cutoffs.holdout": "2024-04-01",
        "cutoffs.purged": "2024-02-01",  # Feb 1 + 30 days reaches into March
    }


def test_rows_at_selects_cutoffs() -> None:
    frame = make_training_set(rows_per_cutoff=3)
    assert set(rows_at(frame, [CUTOFFS[1], CUTOFFS[2]])["as_of"]) == {CUTOFFS[1], CUTOFFS[2]}


def test_split_cutoffs_leaves_a_purge_gap_of_one_horizon() -> None:
    monthly = tuple(datetime(2024, month, 1) for month in range(1, 10))
    split = split_cutoffs(monthly, horizon_days=60)
    assert split.holdout == datetime(2024, 9, 1)
    assert split.valid == (datetime(2024, 7, 1),)  # Aug 1 + 60 days reaches into September
    assert split.train == tuple(datetime(2024, m, 1) for m in range(1, 6))
    assert split.purged == (datetime(2024, 6, 1), datetime(2024, 8, 1))
    assert split.as_tags()["cutoffs.purged"] == "2024-06-01,2024-08-01"
    for earlier, later in ((max(split.train), min(split.valid)), (max(split.valid), split.holdout)):
        assert earlier + timedelta(days=60) <= later


def test_split_cutoffs_without_room_for_the_gap_raises() -> None:
    with pytest.raises(ValueError, match="60-day purge gap"):
        split_cutoffs(CUTOFFS[:4], horizon_days=60)


def test_train_model_reports_the_split_and_row_counts() -> None:
    frame = make_training_set(rows_per_cutoff=200)
    trained = train_model.fn(frame, spec=SPEC, seed=1)
    assert trained.split == split_cutoffs(CUTOFFS, horizon_days=30)
    assert trained.rows == {"train": 800, "valid": 200, "holdout": 200, "purged": 0}
    assert trained.spec == SPEC
    assert len(trained.trials) == 1


def test_train_model_never_sees_holdout_rows() -> None:
    # holdout labels flipped: if they leaked into training, the fit would change
    frame = make_training_set(rows_per_cutoff=200)
    flipped = frame.copy()
    at_holdout = flipped["as_of"] == CUTOFFS[-1]
    flipped.loc[at_holdout, "label"] = 1 - flipped.loc[at_holdout, "label"]
    a = train_model.fn(frame, spec=SPEC, seed=1)
    b = train_model.fn(flipped, spec=SPEC, seed=1)
    matrix = to_model_matrix(frame, spec=SPEC)
    np.testing.assert_array_equal(
        predict_scores(a.fitted.booster, matrix), predict_scores(b.fitted.booster, matrix)
    )


def test_train_model_missing_label_column_raises() -> None:
    frame = make_training_set(rows_per_cutoff=10).drop(columns="label")
    with pytest.raises(ValueError, match=r"lacks columns \['label'\]"):
        train_model.fn(frame, spec=SPEC)


def test_train_model_with_search_logs_every_trial() -> None:
    frame = make_training_set(rows_per_cutoff=150)
    trained = train_model.fn(frame, spec=SPEC, n_trials=2, seed=1)
    assert len(trained.trials) == 3
    assert trained.fitted.valid_auc == max(t.valid_auc for t in trained.trials)


def test_train_model_too_few_cutoffs_raises() -> None:
    frame = make_training_set(
        rows_per_cutoff=20, cutoffs=(datetime(2024, 1, 1), datetime(2024, 2, 1))
    )
    with pytest.raises(ValueError, match="out-of-time split with a 30-day purge gap needs"):
        train_model.fn(frame, spec=SPEC)


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (ConnectionRefusedError(errno.ECONNREFUSED, "connection refused"), True),
        (FileNotFoundError(errno.ENOENT, "no such file"), False),
        (ValueError("cutoffs are not available"), False),
        (KeyError("label"), False),
    ],
)
def test_is_transient_failure_retries_only_transient(exc: BaseException, retry: bool) -> None:
    assert is_transient_failure(None, None, Failed(data=exc)) is retry
