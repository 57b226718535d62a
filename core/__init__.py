"""Settings, database, warehouse tables and shared names: what every other package imports first.

Process-wide: XGBoost's OpenMP threads sleep while they wait for work (``OMP_WAIT_POLICY=PASSIVE``)
unless the environment says otherwise. By default they spin first, which on a machine whose cores
other processes also use makes every barrier wait for a descheduled thread: a fit on 10,000
customers took 37 s instead of 8 s (2 cores, load average 5). The OpenMP runtime reads the variable
once, when xgboost loads, so it is set here, where every entry point's imports start.

MLflow's telemetry is off here too (unless the environment says otherwise): MLflow writes its
telemetry state to ``~/.config/mlflow`` when first imported, and a command run by hand (``python -m
tasks.deploy``) imports it before anything points the tools' homes at ``CHURN_HOME``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
