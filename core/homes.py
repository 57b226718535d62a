"""Every tool's home under ``CHURN_HOME``: Prefect, BentoML, Matplotlib, MLflow's telemetry.

``point_tool_homes()`` sets the environment variables the tools read, unless they are set already
(what the Makefile exports), so a command run by hand writes nothing to the user's home directory.
It only sets variables: it creates no folder and reads no file.
"""

from __future__ import annotations

import os
import warnings

from core.settings import get_settings


def tool_homes() -> dict[str, str]:
    """The environment that points each tool's state at ``CHURN_HOME``."""
    settings = get_settings()
    home = settings.home.resolve()
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(settings.prefect_home / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "BENTOML_HOME": str(settings.bentoml_home),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def point_tool_homes() -> None:
    """Set every tool home that is not set yet (see module doc)."""
    for key, value in tool_homes().items():
        os.environ.setdefault(key, value)
    # Prefect tries to create its home when imported; before the first run CHURN_HOME does not
    # exist yet (a refused parameter must not create it) and the stores' set-up creates it later.
    warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory")
