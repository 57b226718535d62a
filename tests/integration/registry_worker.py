"""A separate process that gates or rolls back, for the crash and concurrency tests.

``python -m tests.integration.registry_worker gate NAME VERSION HOLDOUT.parquet AUC HASH [GAIN]``
``python -m tests.integration.registry_worker rollback NAME``
``python -m tests.integration.registry_worker fork CASES.json``: imports once, then forks one
child process per case (``{"args": [...], "crash_after": n or null}``), all at once; the children
print their decisions, then the parent prints their exit codes (a JSON list, in case order) as
the last line — the tests' processes without one import of MLflow and Prefect each.
Settings (CHURN_HOME, CHURN_MLFLOW_TRACKING_URI, PREFECT_API_URL, CHURN_CRASH_AFTER_WRITES)
come from the environment; prints the decision.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd

from tasks.registry import gate_version, rollback_to_previous
from tasks.registry.store import CRASH_ENV


def main(argv: list[str]) -> None:
    if argv[0] == "gate":
        name, version, holdout, auc, definitions_hash = argv[1:6]
        extra = {"min_gain": float(argv[6])} if len(argv) > 6 else {}
        decision = gate_version(
            name=name,
            version=version,
            candidate_auc=float(auc),
            holdout=pd.read_parquet(holdout),
            definitions_hash=definitions_hash,
            min_auc=0.5,
            tolerance=0.01,
            **extra,
        )
        print(decision.version, decision.decision, decision.champion_version)
    else:
        result = rollback_to_previous(reason="crash test", name=argv[1])
        print(result.from_version, result.to_version)


def fork_cases(path: str) -> None:
    cases = json.loads(Path(path).read_text())
    children = []
    for case in cases:
        pid = os.fork()
        if pid == 0:  # the child: one gate or rollback, killed by the store after n writes
            code = 1
            try:
                if case.get("crash_after") is not None:
                    os.environ[CRASH_ENV] = str(case["crash_after"])
                main(case["args"])
                code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    print(json.dumps(codes), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "fork":
        fork_cases(sys.argv[2])
    else:
        main(sys.argv[1:])
