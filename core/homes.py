"""Every tool's home under ``CHURN_HOME``: Prefect, BentoML, Matplotlib, MLflow's telemetry;
and the flow runs' heartbeat.

``point_tool_homes()`` sets the environment variables the tools read, unless they are set already
(what the Makefile exports), so a command run by hand writes nothing to the user's home directory.
It only sets variables: it creates no folder and reads no file.

Every flow run sends a heartbeat every ``HEARTBEAT_S`` seconds, however it is started (a flow's
command line, ``make``, ``flow()`` called directly, a worker's subprocess, whose environment is
built from ``tool_homes()`` too): the crash automation (``ops/automations.py``) marks a run
Crashed after ``CHURN_CRASH_AFTER_S`` without one, and Prefect's own default (180 s) came close
enough to that window that a busy run was marked Crashed while it worked.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from core.settings import get_settings

HEARTBEAT_S = 30  # Prefect's minimum


def tool_homes(home: Path | None = None) -> dict[str, str]:
    """The environment that points each tool's state at ``home`` (default: ``CHURN_HOME``)."""
    home = (home or get_settings().home).resolve()
    return {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "prefect" / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "BENTOML_HOME": str(home / "bentoml"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # read when prefect is imported: flows/__init__ and ops/__init__ set it before that
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
    }


def point_tool_homes() -> None:
    """Set every tool home that is not set yet (see module doc)."""
    for key, value in tool_homes().items():
        os.environ.setdefault(key, value)
    # Prefect tries to create its home when imported; before the first run CHURN_HOME does not
    # exist yet (a refused parameter must not create it) and the stores' set-up creates it later.
    warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory")
