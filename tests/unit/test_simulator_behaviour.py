"""The simulated business behaves as designed: churn has causes, scenarios do what they say.

Effects are measured on the written files and the ground truth of one fixed-seed run of a size
where they are clear (4,000 customers x 12 months, about a second).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import SimConfig, SimSummary, simulate
from simulator.metrics import roc_auc

MODERATE = SimConfig(customers=4000, months=12, seed=42)
DRIFT_MONTH = 9  # 1-based: 2024-09


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimSummary]:
    out = tmp_path_factory.mktemp("moderate")
    return out, simulate(MODERATE, out)


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimSummary]:
    out = tmp_path_factory.mktemp("drift")
    return out, simulate(MODERATE.model_copy(update={"drift_month": DRIFT_MONTH}), out)


def _crm(out: Path) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("crm/*"))]
    crm = pd.concat([f.rename(columns={"monthly_fee": "monthly_charges"}) for f in frames])
    crm["updated_at"] = pd.to_datetime(crm["updated_at"], format="ISO8601", errors="coerce")
    crm["monthly_charges"] = pd.to_numeric(crm["monthly_charges"], errors="coerce")
    ok = crm["customer_id"].str.match(r"C\d{7}$") & crm["updated_at"].notna()
    ok &= (crm["monthly_charges"] > 0) & crm["plan"].isin(["basic", "standard", "premium"])
    ok &= crm["contract"].isin(["month-to-month", "one-year", "two-year"])
    ok &= crm["status"].isin(["active", "cancelled"])
    ok &= crm["region"].isin(["north", "south", "east", "west"])
    ok &= crm["payment_method"].str.contains("_") & ~(
        (crm["status"] == "cancelled") & (crm["cancel_date"] == "")
    )
    return crm[ok].sort_values(["updated_at", "customer_id"], kind="stable")


def _billing(out: Path) -> pd.DataFrame:
    with sqlite3.connect(out / "billing" / "billing.db") as con:
        b = pd.read_sql("SELECT * FROM billing_events ORDER BY id", con)
    b["created_at"] = pd.to_datetime(b["created_at"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    b = b[b["created_at"].notna() & b["account_id"].fillna("").str.match(r"C\d{7}$")]
    return b.drop_duplicates("txn_ref")


def _truth(out: Path) -> pd.DataFrame:
    t = pd.read_parquet(out / "truth" / "customer_months.parquet")
    t["month_start"] = pd.to_datetime(t["month_start"])
    return t


def _as_of(crm: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Each truth row with the customer's latest CRM record before the month start."""
    crm = crm.sort_values("updated_at")
    return pd.merge_asof(
        truth.sort_values("month_start"),
        crm[["customer_id", "updated_at", "plan", "contract", "monthly_charges"]],
        left_on="month_start",
        right_on="updated_at",
        by="customer_id",
        allow_exact_matches=False,
    )


def test_churn_and_signup_rates_are_realistic(run: tuple[Path, SimSummary]) -> None:
    out, summary = run
    monthly = json.loads((out / "manifest.json").read_text())["monthly"]
    churn = np.array([m["churn_rate"] for m in monthly])
    signups = np.array([m["signups"] / m["active_at_start"] for m in monthly])
    assert 0.02 <= summary.monthly_churn_rate <= 0.04
    assert churn.min() >= 0.015
    assert churn.max() <= 0.05
    assert 0.03 <= signups.mean() <= 0.05


def test_oracle_auc_is_in_the_expected_band(run: tuple[Path, SimSummary]) -> None:
    out, summary = run
    truth = _truth(out)
    auc = roc_auc(truth["hazard"].to_numpy(), truth["churned_next_30d"].to_numpy())
    assert auc == pytest.approx(summary.oracle_auc)
    assert 0.86 <= auc <= 0.92


def test_month_to_month_churns_more_than_two_year(run: tuple[Path, SimSummary]) -> None:
    out, _ = run
    rows = _as_of(_crm(out), _truth(out))
    rate = rows.groupby("contract")["churned_next_30d"].mean()
    assert rate["month-to-month"] > 2 * rate["one-year"] > 2 * rate["two-year"]


def test_failed_payments_and_price_increases_raise_churn(run: tuple[Path, SimSummary]) -> None:
    out, _ = run
    truth = _truth(out)
    billing = _billing(out)
    failed = billing[billing["event_type"] == "failed_payment"]
    failed = failed.assign(month_start=failed["created_at"].dt.to_period("M").dt.to_timestamp())
    failed = failed.assign(month_start=failed["month_start"] + pd.offsets.MonthBegin(1))
    keys = set(zip(failed["account_id"], failed["month_start"], strict=True))
    had = [k in keys for k in zip(truth["customer_id"], truth["month_start"], strict=True)]
    rate = truth.groupby(np.asarray(had))["churned_next_30d"].mean()
    assert rate[True] > 2 * rate[False]

    crm = _crm(out)
    rows = _as_of(crm, truth)
    prev = _as_of(crm, truth.assign(month_start=truth["month_start"] - pd.offsets.MonthBegin(1)))
    prev = prev.set_index(["customer_id", prev["month_start"] + pd.offsets.MonthBegin(1)])
    before = prev[["plan", "monthly_charges"]].reindex(
        pd.MultiIndex.from_frame(rows[["customer_id", "month_start"]])
    )
    ratio = rows["monthly_charges"].to_numpy() / before["monthly_charges"].to_numpy()
    same_plan = rows["plan"].to_numpy() == before["plan"].to_numpy()
    raised = same_plan & (ratio > 1.04)  # a price increase in the month before
    rate = rows.groupby(raised)["churned_next_30d"].mean()
    assert rate[True] > 1.8 * rate[False]


def test_cancelled_customers_go_silent(run: tuple[Path, SimSummary]) -> None:
    out, summary = run
    crm = _crm(out)
    cancels = crm[crm["status"] == "cancelled"].set_index("customer_id")
    assert cancels.index.is_unique and len(cancels) == summary.churned
    after = crm.join(cancels["updated_at"].rename("cancelled_at"), on="customer_id")
    assert not (after["updated_at"] > after["cancelled_at"]).any()
    billing = _billing(out).join(cancels["cancel_date"], on="account_id")
    days = billing["created_at"].dt.strftime("%Y-%m-%d")
    assert not (billing["cancel_date"].notna() & (days > billing["cancel_date"])).any()
    assert (billing["event_type"] == "refund").any()
    text = [x for p in sorted(out.glob("helpdesk/*")) for x in p.read_text().splitlines()]
    lines = [json.loads(x) for x in text if x.endswith("}")]  # skip truncated (dirty) lines
    desk = pd.DataFrame([d for d in lines if d.get("customer_id")])
    desk = desk.join(cancels["updated_at"].rename("cancelled_at"), on="customer_id")
    updated = pd.to_datetime(desk["updated_at"], format="ISO8601", errors="coerce")
    assert not (updated > desk["cancelled_at"]).any()


def test_format_change_renames_the_charges_column_from_that_month(tmp_path: Path) -> None:
    plain = SimConfig(customers=300, months=6, seed=3)
    simulate(plain, tmp_path / "plain")
    simulate(plain.model_copy(update={"format_change_month": 4}), tmp_path / "changed")
    for month in range(1, 7):
        name = f"crm/customers_2024-0{month}.csv"
        a = (tmp_path / "plain" / name).read_text().split("\n", 1)
        b = (tmp_path / "changed" / name).read_text().split("\n", 1)
        assert a[1] == b[1]
        assert ("monthly_fee" in b[0]) == (month >= 4)
        assert ("monthly_charges" in b[0]) == (month < 4)
    manifest = json.loads((tmp_path / "changed" / "manifest.json").read_text())
    assert manifest["scenarios"]["format_change"]["month_label"] == "2024-04"


def test_price_shock_raises_prices_then_churn(
    run: tuple[Path, SimSummary], drift_run: tuple[Path, SimSummary]
) -> None:
    base, _ = run
    out, _ = drift_run
    for month in range(1, DRIFT_MONTH):  # nothing changes before the shock
        for name in (f"crm/customers_2024-0{month}.csv", f"helpdesk/tickets_2024-0{month}.jsonl"):
            assert (base / name).read_bytes() == (out / name).read_bytes()
    crm = _crm(out)
    month = crm[crm["updated_at"].dt.month == DRIFT_MONTH]
    truth = _truth(out)
    active = truth[truth["month_start"] == "2024-09-01"]
    prev = _as_of(crm, active)
    raised = month.merge(prev[["customer_id", "monthly_charges"]], on="customer_id")
    ratio = raised["monthly_charges_x"] / raised["monthly_charges_y"]
    shocked = raised.loc[ratio.between(1.23, 1.27), "customer_id"].nunique()
    assert 0.35 < shocked / len(active) < 0.45
    base_truth = _truth(base)
    after = truth["month_start"] == "2024-10-01"
    base_after = base_truth["month_start"] == "2024-10-01"
    churn, base_churn = (
        truth.loc[after, "churned_next_30d"].mean(),
        base_truth.loc[base_after, "churned_next_30d"].mean(),
    )
    assert churn > 1.4 * base_churn
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenarios"]["drift"]["month_label"] == "2024-09"


def test_roc_auc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    label = rng.random(2000) < 0.1
    score = np.round(rng.random(2000) + label * 0.5, 1)  # many ties
    assert roc_auc(score, label) == pytest.approx(roc_auc_score(label, score))
    assert np.isnan(roc_auc(score, np.zeros(2000, dtype=bool)))
