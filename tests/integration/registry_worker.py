"""A separate process that gates or rolls back, for the crash and concurrency tests.

``python -m tests.integration.registry_worker gate NAME VERSION HOLDOUT.parquet AUC HASH``
``python -m tests.integration.registry_worker rollback NAME``
Settings (CHURN_HOME, CHURN_MLFLOW_TRACKING_URI, PREFECT_API_URL, CHURN_CRASH_AFTER_WRITES)
come from the environment; prints the decision.
"""

from __future__ import annotations

import sys

import pandas as pd

from tasks.registry import gate_version, rollback_to_previous


def main(argv: list[str]) -> None:
    if argv[0] == "gate":
        name, version, holdout, auc, definitions_hash = argv[1:6]
        decision = gate_version(
            name=name,
            version=version,
            candidate_auc=float(auc),
            holdout=pd.read_parquet(holdout),
            definitions_hash=definitions_hash,
            min_auc=0.5,
            tolerance=0.01,
        )
        print(decision.version, decision.decision, decision.champion_version)
    else:
        result = rollback_to_previous(reason="crash test", name=argv[1])
        print(result.from_version, result.to_version)


if __name__ == "__main__":
    main(sys.argv[1:])
