"""Prefect flows: one module per stage flow, each with its command line: python -m flows.<name>.

Importing the package points each tool's home at ``CHURN_HOME`` unless it is already set — what
the Makefile exports — so a flow run by hand writes nothing to the user's home directory.
"""

import os
import warnings

from core.settings import get_settings


def _tool_homes() -> dict[str, str]:
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


for _key, _value in _tool_homes().items():
    os.environ.setdefault(_key, _value)
# Prefect tries to create its home when imported; before the first run CHURN_HOME does not exist
# yet (a refused parameter must not create it) and the stores' set-up creates it later.
warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory")
