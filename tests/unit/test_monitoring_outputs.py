"""Pure monitoring outputs: Prometheus text, the reports index, business figures, profiles."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from scipy import stats

from monitoring.business import business_metrics
from monitoring.drift import detect_drift
from monitoring.index import add_banner, render_index
from monitoring.profile import MAX_EXACT_VALUES, build_profile, sorted_quantiles
from monitoring.prometheus import Figure, render_prometheus


def test_render_prometheus_parses_with_labels_and_nan() -> None:
    text = render_prometheus(
        [
            Figure("drift.share", 0.25),
            Figure("drift.feature_score", 0.4, {"feature": "monthly_charges"}),
            Figure("drift.feature_score", 0.01, {"feature": 'odd"name'}),
            Figure("performance.roc_auc", math.nan),
        ],
        labels={"model": "churn-model", "version": "3"},
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["churn_drift_share"].samples[0].value == 0.25
    scores = {s.labels["feature"]: s.value for s in families["churn_drift_feature_score"].samples}
    assert scores == {"monthly_charges": 0.4, 'odd"name': 0.01}
    assert all(s.labels["version"] == "3" for f in families.values() for s in f.samples)
    assert math.isnan(families["churn_performance_roc_auc"].samples[0].value)


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.verdicts: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in = ("class", "verdict") in attrs

    def handle_data(self, data: str) -> None:
        if self._in:
            self.verdicts.append(data)
            self._in = False


def test_render_index_lists_runs_newest_first_with_verdict() -> None:
    entries = [
        {"at": "2025-01-01T00:00:00", "model_version": "1", "drift": False, "reports": {}},
        {
            "at": "2025-01-02T00:00:00",
            "model_version": "2",
            "drift": True,
            "drifted": ["monthly_charges"],
            "retrain": True,
            "roc_auc": 0.8,
            "reports": {"drift": "a-drift.html"},
        },
    ]
    parser = _Cells()
    parser.feed(render_index(entries, title="t"))
    assert parser.verdicts == ["DRIFT: monthly_charges — retrain requested", "no drift"]


def test_add_banner_goes_right_after_body() -> None:
    page = add_banner(
        "<html><body class='x'><p>r</p></body></html>", verdict="no drift", subtitle="s"
    )
    assert page.index('id="churn-verdict"') > page.index("<body")
    assert page.index('id="churn-verdict"') < page.index("<p>r")


def test_business_metrics_at_risk_revenue_and_churn() -> None:
    scored = pd.DataFrame(
        {"score": [0.05, 0.3, 0.9, 0.12], "monthly_charges": [10.0, 20.0, 30.0, 40.0]}
    )
    out = business_metrics(scored, high_risk=0.25, labels=pd.Series([0, 1, 1, 0]))
    assert out["business.customers_at_risk"] == 2
    assert out["business.monthly_revenue_at_risk"] == 50.0
    assert out["business.realized_churn_rate"] == 0.5


def test_profile_quantiles_keep_wasserstein_close_to_exact() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.gamma(2.0, 10.0, 40_000)})
    current = pd.DataFrame({"x": rng.gamma(2.2, 10.0, 30_000)})
    profile = build_profile(reference, numeric=["x"], categorical=[])
    assert not profile["columns"]["x"]["exact"]
    assert len(profile["columns"]["x"]["points"]) == MAX_EXACT_VALUES
    exact = stats.wasserstein_distance(reference["x"], current["x"]) / reference["x"].std(ddof=0)
    fast = detect_drift(current, profile).columns[0]
    assert fast.method == "wasserstein"
    assert fast.score == pytest.approx(exact, abs=2e-3)


def test_detect_drift_names_missing_column() -> None:
    profile = build_profile(pd.DataFrame({"x": [1.0, 2.0]}), numeric=["x"], categorical=[])
    with pytest.raises(ValueError, match="'x'"):
        detect_drift(pd.DataFrame({"y": [1.0]}), profile, columns=["x"])


@pytest.mark.parametrize("n", [1, 2, 7, 4999, 5001, 12_345, 100_000])
def test_sorted_quantiles_equal_numpys_inverted_cdf(n: int) -> None:
    rng = np.random.default_rng(n)
    values = np.sort(np.round(rng.gamma(2.0, 30.0, size=n), 1))  # ties, like real features
    for probs in ((np.arange(5000) + 0.5) / 5000, np.array([0.0, 0.25, 0.5, 1.0])):
        want = np.quantile(values, probs, method="inverted_cdf")
        np.testing.assert_array_equal(sorted_quantiles(values, probs), want)
