"""Build a bento for one registry version: the model baked in, the code it needs, a Dockerfile.

The build context is a fresh folder holding only what the service imports (``bentos``, ``core``,
``models``, the feature definitions and lookup in ``tasks/features``), and ``bentoml build`` runs
in a subprocess whose import path is that folder, so a bento that needed anything else (``flows``,
Prefect wrappers) fails to build here rather than in production. The bento's version names the
model version plus a digest of the code and model: the same inputs give the same bento, reused.
Every model, built-in or a declared source's ``churn-<name>``, is served by the one service class;
what the bento bakes in (``bentos/baked.py``) says which view and record it serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import yaml

from core.locks import file_lock
from core.settings import get_settings
from tasks.deploy.model_import import DeployError, ImportedModel, import_model, use_bentoml_home

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parents[2]
SERVICE = "bentos.service:ChurnService"
BUILD_WAIT_S = 900.0  # another process building the same bento: wait for it, then reuse it
SERVICE_NAME = "churn-service"  # bentos/service.py SERVICE_NAME (a test keeps them equal)
BAKED_FILE = "bentos/bento_model.json"  # bentos/baked.py BAKED_FILE
SOURCES = (
    "bentos",
    "core",
    "models",
    "tasks/__init__.py",
    "tasks/features",
)
LEFT_OUT = {"tasks/features/steps.py", "tasks/features/docs.py"}  # Prefect wrappers, CLI
REQUIREMENTS = (
    "bentoml",
    "xgboost-cpu",
    "numpy",
    "pandas",
    "scikit-learn",
    "sqlalchemy",
    "psycopg",
    "psycopg-binary",
    "pydantic",
    "pydantic-settings",
)


@dataclass(frozen=True)
class BuiltBento:
    """A bento in the store: its tag, the model it serves, and its generated Dockerfile."""

    tag: str
    model: ImportedModel
    path: Path
    dockerfile: Path
    reused: bool


def collect_sources(root: Path = PROJECT_DIR) -> list[str]:
    """Relative paths of the .py files the bento carries (sorted)."""
    files: list[str] = []
    for entry in SOURCES:
        path = root / entry
        found = [path] if path.is_file() else sorted(path.rglob("*.py"))
        files += [p.relative_to(root).as_posix() for p in found]
    return sorted(f for f in files if f not in LEFT_OUT and "__pycache__" not in f)


def build_bento(model_version: str, *, model_name: str | None = None) -> BuiltBento:
    """Import version ``model_version`` of ``model_name`` (default: the built-in model) into
    BentoML and build (or reuse) its bento.

    One process at a time per model version (a file lock in the BentoML home): a retrain that
    builds the bento of the version it promoted and the rollout follower that serves it build
    the same one at the same moment, and BentoML refuses the second import ("already exists")."""
    home = use_bentoml_home()
    name = model_name or get_settings().model_name
    lock = Path(home) / "locks" / f"{name}-v{model_version}.lock"
    with file_lock(lock, timeout_s=BUILD_WAIT_S, what=f"the bento of {name} v{model_version}"):
        return _build_bento(home, str(model_version), model_name=name)


def _build_bento(home: str, model_version: str, *, model_name: str) -> BuiltBento:
    model = import_model(model_version, model_name=model_name)
    # the system's temporary folder, not $CHURN_HOME/tmp: bentoml build refuses a build context
    # under a hidden folder (the default CHURN_HOME is .churn); it holds only the project's code
    with tempfile.TemporaryDirectory(prefix="churn-bento-") as tmp:
        ctx = Path(tmp)
        files = collect_sources()
        for rel in files:
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PROJECT_DIR / rel, ctx / rel)
        (ctx / BAKED_FILE).write_text(json.dumps({"model_tag": model.tag}), encoding="utf-8")
        digest = hashlib.sha256()
        for rel in [*files, BAKED_FILE]:
            digest.update(rel.encode() + b"\0" + (ctx / rel).read_bytes() + b"\0")
        # a declared source's bento names its model: its versions count apart from churn-model's
        prefix = "model" if model.source is None else model.model_name
        version = f"{prefix}-v{model.model_version}-{digest.hexdigest()[:10]}"
        tag = f"{SERVICE_NAME}:{version}"
        existing = find_bento(tag)
        if existing is not None:
            log.info(
                "bento %s already built for %s v%s", tag, model.model_name, model.model_version
            )
            return _built(tag, model, existing, reused=True)
        (ctx / "bentofile.yaml").write_text(yaml.safe_dump(_bentofile(model, files)), "utf-8")
        _run_build(ctx, version, home)
    path = find_bento(tag)
    if path is None:
        raise DeployError(f"bentoml build reported success but {tag} is not in {home}/bentos")
    log.info("built bento %s for %s v%s", tag, model.model_name, model.model_version)
    return _built(tag, model, path, reused=False)


def find_bento(tag: str) -> Path | None:
    """Folder of bento ``tag`` in the store under CHURN_HOME, or None."""
    name, version = tag.split(":", 1)
    path = Path(use_bentoml_home()) / "bentos" / name / version
    return path if (path / "bento.yaml").exists() else None


def _built(tag: str, model: ImportedModel, path: Path, *, reused: bool) -> BuiltBento:
    dockerfile = path / "env" / "docker" / "Dockerfile"
    if not dockerfile.exists():
        raise DeployError(f"bento {tag} has no generated Dockerfile at {dockerfile}")
    return BuiltBento(tag, model, path, dockerfile, reused)


def _bentofile(model: ImportedModel, files: list[str]) -> dict[str, Any]:
    labels = {
        "model_name": model.model_name,
        "model_version": model.model_version,
        "model_tag": model.tag,
        "run_id": model.run_id,
        "definitions_hash": model.definitions_hash,
    }
    if model.source is not None:
        labels["source"] = model.source
    return {
        "service": SERVICE,
        "description": f"Churn prediction API serving {model.model_name} v{model.model_version}",
        "labels": labels,
        "include": [*files, BAKED_FILE],
        "models": [model.tag],
        "python": {
            "packages": [f"{name}=={package_version(name)}" for name in REQUIREMENTS],
            "lock_packages": False,
        },
        "docker": {"python_version": "3.11"},
        "envs": [{"name": "OMP_NUM_THREADS", "value": "1"}],
    }


def _run_build(ctx: Path, version: str, home: str) -> None:
    """``bentoml build`` with only the build context importable (no repository on the path)."""
    env = {
        **os.environ,
        "BENTOML_HOME": home,
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONPATH": str(ctx),
    }
    bentoml_cli = str(Path(sys.executable).parent / "bentoml")
    cmd = [bentoml_cli, "build", str(ctx), "--version", version, "--output", "tag"]
    done = subprocess.run(cmd, cwd=ctx, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise DeployError(f"bentoml build failed (exit {done.returncode}):\n{tail}")
