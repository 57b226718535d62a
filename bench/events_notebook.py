"""The baseline of ``make bench ONLY=events``: what a data scientist's notebook does with the files.

Plain pandas + XGBoost on the same ``events.csv`` and ``subscriptions.csv`` the system loads, with
nothing of the project: weekly observation dates; at each date the accounts whose subscription is
running; features = 28-day counts per event type and tenure in days; label = the subscription
ends within the horizon. It trains on every weekly date whose horizon has elapsed by the holdout
cutoff (the system's, passed in) and scores the accounts running at that cutoff. The parameters
are fixed and were written before the first comparison; they are not tuned afterwards.

``python -m bench.events_notebook FOLDER --holdout 2024-11-05 --horizon-days 30`` prints one JSON
line: wall seconds, training rows, holdout rows and holdout ROC-AUC.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

WINDOW = pd.Timedelta(days=28)
EVERY = pd.Timedelta(days=7)
PARAMS = {
    "n_estimators": 300,
    "max_depth": 5,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "tree_method": "hist",
    "random_state": 0,
}


def observations(
    events: pd.DataFrame, subs: pd.DataFrame, at: pd.Timestamp, horizon: pd.Timedelta
) -> pd.DataFrame:
    """The accounts running at ``at``: 28-day counts per event type, tenure, label."""
    running = subs[(subs["started"] <= at) & (subs["ended"].isna() | (subs["ended"] > at))]
    bounds = [(at - WINDOW).to_datetime64(), at.to_datetime64()]
    lo, hi = np.searchsorted(events["ts"].to_numpy(), bounds, side="right")
    window = events.iloc[lo:hi]
    counts = pd.crosstab(window["user_id"], window["event"])
    frame = running.set_index("user_id")[["started", "ended"]].join(counts, how="left")
    frame = frame.fillna({c: 0 for c in counts.columns})
    frame["tenure_days"] = (at - frame["started"]).dt.days
    frame["label"] = (frame["ended"].notna() & (frame["ended"] <= at + horizon)).astype(int)
    frame["as_of"] = at
    return frame.drop(columns=["started", "ended"])


def run(folder: Path, holdout: pd.Timestamp, horizon_days: int) -> dict[str, float]:
    started = time.perf_counter()
    events = pd.read_csv(
        folder / "events.csv",
        usecols=["user_id", "ts", "event"],
        parse_dates=["ts"],
        dtype={"user_id": "category", "event": "category"},
    ).sort_values("ts", kind="stable")
    events["user_id"] = events["user_id"].astype(str)
    subs = pd.read_csv(folder / "subscriptions.csv", parse_dates=["started", "ended"])
    horizon = pd.Timedelta(days=horizon_days)
    first = events["ts"].min().normalize() + WINDOW
    dates = pd.date_range(first, holdout - horizon, freq=EVERY)
    train = pd.concat([observations(events, subs, d, horizon) for d in dates]).fillna(0)
    test = observations(events, subs, holdout, horizon).fillna(0)
    columns = sorted(set(train.columns) - {"label", "as_of"})
    test = test.reindex(columns=[*columns, "label"], fill_value=0)
    model = xgb.XGBClassifier(**PARAMS)
    model.fit(train[columns], train["label"])
    auc = roc_auc_score(test["label"], model.predict_proba(test[columns])[:, 1])
    return {
        "seconds": time.perf_counter() - started,
        "training_rows": len(train),
        "observation_dates": len(dates),
        "holdout_rows": len(test),
        "holdout_roc_auc": float(auc),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events_notebook", description=__doc__)
    parser.add_argument("folder", type=Path, help="folder with events.csv and subscriptions.csv")
    parser.add_argument("--holdout", required=True, help="the system's holdout cutoff (ISO time)")
    parser.add_argument("--horizon-days", type=int, required=True, help="label horizon")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.folder, pd.Timestamp(args.holdout), args.horizon_days)))


if __name__ == "__main__":
    main()
