"""The simulator's exports declared in YAML (``definitions/simulator.yaml``) against the Python
catalog, on the demo's data (5,000 customers × 18 months, seed 42, as ``make demo`` simulates).

Both definitions read the same warehouse through the same training path (latest 12 monthly
cutoffs, out-of-time split, seed of the settings). Figures: ``definitions.catalog.holdout_roc_auc``,
``definitions.yaml.holdout_roc_auc``, ``definitions.auc_gap`` (absolute; goal ≤ 0.005),
``definitions.same_hash`` (1 when both compile to the same definitions hash) and
``definitions.sample_equal`` (1 when the features of 2,000 sampled rows are equal).
"""

from __future__ import annotations

import argparse
import sys

from bench._common import emit
from bench.training import _warehouse
from core.db import make_engine
from core.settings import get_settings
from tasks.definitions import document_definitions, get_definition
from tasks.modeldata.builtin import BuiltinData
from tasks.training import evaluate_holdout, fit_model, read_training_set


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=5000, help="simulated customers")
    parser.add_argument("--months", type=int, default=18, help="simulated months")
    parser.add_argument("--seed", type=int, default=42, help="simulator seed")
    args = parser.parse_args(argv)
    key = f"{args.customers}_m{args.months}_s{args.seed}"
    url = _warehouse(
        (get_settings().home / "bench-cache").resolve(),
        key,
        customers=args.customers,
        months=args.months,
        seed=args.seed,
    )
    catalog = get_definition(get_settings().model_name)
    (declared,) = document_definitions().values()
    engine = make_engine(url)
    try:
        frames, aucs = {}, {}
        for label, definition in (("catalog", catalog), ("yaml", declared)):
            frame = read_training_set(BuiltinData(definition), engine=engine)
            trained = fit_model(frame, spec=definition.feature_spec())
            aucs[label] = evaluate_holdout(trained, frame).metrics["roc_auc"]
            frames[label] = frame
            emit(f"definitions.{label}.holdout_roc_auc", aucs[label], "roc_auc", rows=len(frame))
    finally:
        engine.dispose()
    emit("definitions.auc_gap", abs(aucs["catalog"] - aucs["yaml"]), "roc_auc")
    emit("definitions.same_hash", int(catalog.definitions_hash == declared.definitions_hash), "")
    sample = frames["catalog"].sample(n=min(2000, len(frames["catalog"])), random_state=0)
    keys = ["customer_id", "as_of"]
    other = sample[keys].merge(frames["yaml"], on=keys, how="left")
    names = [fd.name for fd in catalog.features]
    mine = sample[keys + names].reset_index(drop=True)
    differ = [n for n in keys + names if not mine[n].equals(other[n])]
    emit("definitions.sample_equal", int(not differ), "", rows=len(sample))
    if differ:
        print(f"# columns that differ: {differ}", file=sys.stderr)


if __name__ == "__main__":
    main()
