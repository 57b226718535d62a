from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from models.preprocessing import FeatureSpec, to_model_matrix

SPEC = FeatureSpec(
    names=("charges", "plan", "tickets"),
    categories={"plan": ("basic", "premium")},
    definitions_hash="h1",
    monotone={"tickets": 1},
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tickets": [1, 0, None],
            "plan": ["premium", "basic", None],
            "charges": [10.5, 20.0, np.nan],
            "extra": ["x", "y", "z"],
        }
    )


def test_to_model_matrix_orders_columns_and_sets_types() -> None:
    matrix = to_model_matrix(_frame(), spec=SPEC)
    assert list(matrix.columns) == ["charges", "plan", "tickets"]
    assert matrix["charges"].dtype == "float64"
    assert matrix["tickets"].dtype == "float64"
    assert list(matrix["plan"].cat.categories) == ["basic", "premium"]
    assert matrix["plan"].cat.codes.tolist() == [1, 0, -1]


def test_to_model_matrix_category_codes_ignore_order_of_appearance() -> None:
    first = to_model_matrix(_frame(), spec=SPEC)
    reversed_rows = to_model_matrix(_frame().iloc[::-1], spec=SPEC).iloc[::-1]
    assert first["plan"].cat.codes.tolist() == reversed_rows["plan"].cat.codes.tolist()


def test_to_model_matrix_unknown_category_becomes_missing() -> None:
    frame = _frame().assign(plan=["gold", "basic", 3])
    matrix = to_model_matrix(frame, spec=SPEC)
    assert matrix["plan"].isna().tolist() == [True, False, True]


def test_to_model_matrix_missing_column_raises_naming_it() -> None:
    with pytest.raises(ValueError, match=r"lacks \['tickets'\]"):
        to_model_matrix(_frame().drop(columns="tickets"), spec=SPEC)


def test_to_model_matrix_non_numeric_value_raises_naming_feature() -> None:
    with pytest.raises(ValueError, match="'charges'"):
        to_model_matrix(_frame().assign(charges=["1.0", "lots", "2"]), spec=SPEC)


def test_feature_spec_dict_roundtrip() -> None:
    assert FeatureSpec.from_dict(SPEC.to_dict()) == SPEC


@dataclass
class _Def:
    name: str
    dtype: str


def test_feature_spec_from_definitions_keeps_order_and_categories() -> None:
    defs = [_Def("b", "float"), _Def("plan", "category"), _Def("a", "int")]
    spec = FeatureSpec.from_definitions(
        defs, categories={"plan": ["x", "y"], "other": ["z"]}, definitions_hash="h"
    )
    assert spec.names == ("b", "plan", "a")
    assert dict(spec.categories) == {"plan": ("x", "y")}


def test_feature_spec_from_definitions_categorical_without_categories_raises() -> None:
    with pytest.raises(ValueError, match="'plan' has no entry in CATEGORIES"):
        FeatureSpec.from_definitions(
            [_Def("plan", "category")], categories={}, definitions_hash="h"
        )


def test_feature_spec_rejects_categories_of_unknown_features() -> None:
    with pytest.raises(ValueError, match="not among the features"):
        FeatureSpec(names=("a",), categories={"b": ("x",)})


@pytest.mark.parametrize("monotone", [{"plan": 1}, {"unknown": 1}, {"charges": 2}])
def test_feature_spec_rejects_invalid_monotone_constraints(monotone: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="monotone constraints"):
        FeatureSpec(names=("charges", "plan"), categories={"plan": ("a",)}, monotone=monotone)
