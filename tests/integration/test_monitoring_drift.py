"""The fast drift decision on the simulator's price-shock scenario and its no-drift control:
drift found and named, control not flagged, and every feature's test equal to Evidently's own
DataDriftPreset run on the full data."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from monitoring.drift import DriftResult, detect_drift
from tasks.monitoring.data import CATEGORICAL, NUMERIC
from tasks.monitoring.reference import reference_profile
from tests.integration.monitoring_sim import PRICE_FEATURES, Scenario, simulate_scenario

FEATURES = [*NUMERIC, *CATEGORICAL]
DRIFT_SHARE = 0.2  # the monitor flow's default
EVIDENTLY_METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}


@pytest.fixture(scope="module", params=["drift", "control"])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    folder = tmp_path_factory.mktemp(f"sim-{request.param}")
    return simulate_scenario(folder, drift=request.param == "drift")


def _fast(scenario: Scenario) -> DriftResult:
    return detect_drift(scenario.current, reference_profile(scenario.reference), columns=FEATURES)


def _evidently(scenario: Scenario) -> dict[str, dict[str, Any]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)

    def dataset(frame: pd.DataFrame) -> Any:
        return Dataset.from_pandas(frame[FEATURES], data_definition=definition)

    run = Report([DataDriftPreset(columns=FEATURES)]).run(
        dataset(scenario.current), dataset(scenario.reference)
    )
    out = {}
    for metric in run.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            out[config["column"]] = {
                "method": EVIDENTLY_METHODS[config["method"]],
                "threshold": config["threshold"],
                "score": metric["value"],
            }
    return out


def test_drift_found_and_named_control_not_flagged(scenario: Scenario, request: Any) -> None:
    result = _fast(scenario)
    assert len(result.columns) == len(FEATURES) and not result.skipped
    if "drift" in request.node.callspec.id:
        assert result.share >= DRIFT_SHARE, result.drifted
        assert set(result.drifted) >= PRICE_FEATURES
    else:
        assert result.share < DRIFT_SHARE, result.drifted
        assert not PRICE_FEATURES & set(result.drifted)


def test_fast_decision_agrees_with_evidently_per_feature(scenario: Scenario) -> None:
    ours = {c.column: c for c in _fast(scenario).columns}
    theirs = _evidently(scenario)
    assert set(theirs) == set(ours)
    for name, expected in theirs.items():
        got = ours[name]
        assert got.method == expected["method"], name
        assert got.threshold == pytest.approx(expected["threshold"]), name
        assert got.score == pytest.approx(expected["score"], rel=1e-9, abs=1e-12), name
        p_value = got.method in {"ks", "chisquare", "z"}
        evidently_drift = (
            expected["score"] < expected["threshold"]
            if p_value
            else expected["score"] >= expected["threshold"]
        )
        assert got.drifted == evidently_drift, name
