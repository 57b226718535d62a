import numpy as np
import pandas as pd
import pytest
from mlflow.models.utils import _enforce_schema
from mlflow.types import DataType

from models.estimator import BoosterParams, fit_booster, predict_scores
from models.preprocessing import to_model_matrix
from models.pyfunc import ChurnModel
from models.signature import SCORE_COLUMN, build_input_example, build_signature
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set


def test_build_signature_one_column_per_feature_in_order() -> None:
    signature = build_signature(SPEC)
    inputs = signature.inputs.to_dict()
    assert [c["name"] for c in inputs] == list(SPEC.names)
    types = {c.name: c.type for c in signature.inputs.inputs}
    assert types["plan"] == DataType.string
    assert types["tenure_days"] == DataType.double
    assert signature.outputs.input_names() == [SCORE_COLUMN]


def test_build_input_example_matches_the_signature() -> None:
    frame = make_training_set(rows_per_cutoff=10).assign(plan=None)
    example = build_input_example(frame, spec=SPEC, rows=3)
    assert list(example.columns) == list(SPEC.names)
    assert len(example) == 3
    enforced = _enforce_schema(example, build_signature(SPEC).inputs)
    assert list(enforced.columns) == list(SPEC.names)


def test_churn_model_predict_matches_booster_and_keeps_index() -> None:
    frame = make_training_set(rows_per_cutoff=200)
    train, valid = frame[frame["as_of"] < CUTOFFS[-1]], frame[frame["as_of"] == CUTOFFS[-1]]
    fitted = fit_booster(
        (to_model_matrix(train, spec=SPEC), train["label"].to_numpy()),
        (to_model_matrix(valid, spec=SPEC), valid["label"].to_numpy()),
        params=BoosterParams(num_boost_round=30),
        seed=1,
    )
    model = ChurnModel(fitted.booster, SPEC)
    batch = valid.head(7).set_index(pd.Index(range(100, 107)))
    out = model.predict(None, batch)
    assert list(out.columns) == [SCORE_COLUMN]
    assert list(out.index) == list(range(100, 107))
    expected = predict_scores(fitted.booster, to_model_matrix(batch, spec=SPEC))
    np.testing.assert_array_equal(out[SCORE_COLUMN].to_numpy(), expected)
    assert len(model.explain(batch, top_k=2)[0]) == 2


def test_churn_model_without_artifacts_says_how_to_load() -> None:
    with pytest.raises(RuntimeError, match=r"mlflow\.pyfunc\.load_model"):
        ChurnModel().predict(None, make_training_set(rows_per_cutoff=1))
