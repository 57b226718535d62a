"""Serve a built bento: find the champion's version, and the environment ``bentoml serve`` needs.

The served process gets absolute ``CHURN_HOME`` and ``BENTOML_HOME`` (so it finds the warehouse
and the bento store from any working directory) and one OpenMP thread per worker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlflow.exceptions import MlflowException

from core.names import CHAMPION
from core.settings import get_settings
from tasks.deploy.model_import import DeployError, registry_client, use_bentoml_home
from tasks.retries import is_transient

DEFAULT_PORT = 3000


def champion_version(model_name: str | None = None) -> str:
    """The version of ``model_name`` (default: the built-in model) the ``champion`` alias points
    at; a clear error when there is none."""
    name = model_name or get_settings().model_name
    try:
        return str(registry_client().get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException as exc:
        if is_transient(exc):
            raise  # the store did not answer: that, not a missing champion
        raise DeployError(
            f"{name!r} has no {CHAMPION!r} version in {get_settings().mlflow_tracking_uri}; "
            "train one first (make demo, or python -m flows.train; a declared source's "
            "churn-<name>: make declare SPEC=...)"
        ) from exc


def serve_env() -> dict[str, str]:
    """Environment of a serving process: absolute homes, one OpenMP thread."""
    settings = get_settings()
    return {
        **os.environ,
        "CHURN_HOME": str(settings.home.resolve()),
        "BENTOML_HOME": use_bentoml_home(),
        "BENTOML_DO_NOT_TRACK": "True",
        "OMP_NUM_THREADS": "1",
    }


def serve_command(tag: str, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> list[str]:
    """``bentoml serve`` of a bento from the store."""
    bentoml_cli = str(Path(sys.executable).parent / "bentoml")
    return [bentoml_cli, "serve", tag, "--host", host, "--port", str(port)]
