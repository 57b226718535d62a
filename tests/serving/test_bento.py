"""The bento is self-contained: it carries the code the service imports (and no flows), its model,
labels naming the model version, and a generated Dockerfile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from tasks.deploy.build import BAKED_FILE, SERVICE_NAME, collect_sources
from tests.serving.conftest import REPO, Stack, modules_loaded_by_bento


def _bento(stack: Stack) -> Path:
    name, version = stack.tag.split(":")
    path = stack.home / "bentoml" / "bentos" / name / version
    assert (path / "bento.yaml").exists()
    return path


def test_bento_imports_only_its_own_code_from_outside_the_repository(
    serving_stack: Stack, outside_dir: Path
) -> None:
    bento = _bento(serving_stack)
    modules = modules_loaded_by_bento(serving_stack.tag, serving_stack.env, outside_dir)
    assert "bentos.service" in modules and "tasks.features.lookup" in modules
    assert not [m for m in modules if m.split(".")[0] in ("flows", "simulator", "monitoring")]
    src = (bento / "src").resolve()
    outside = {m: f for m, f in modules.items() if f and src not in Path(f).resolve().parents}
    assert outside == {}


def test_bento_carries_model_labels_and_a_dockerfile(serving_stack: Stack) -> None:
    bento = _bento(serving_stack)
    assert serving_stack.tag.startswith(f"{SERVICE_NAME}:model-v1-")
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["name"] == SERVICE_NAME  # the service's own name, as the build expects
    assert info["labels"]["model_version"] == "1"
    assert [m["tag"] for m in info["models"]] == [info["labels"]["model_tag"]]
    src = bento / "src"
    carried = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py"))
    assert carried == collect_sources()
    assert json.loads((src / BAKED_FILE).read_text())["model_tag"] == info["labels"]["model_tag"]
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM" in dockerfile
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "xgboost-cpu==" in requirements and "mlflow" not in requirements
    assert not (REPO / BAKED_FILE).exists()  # the build never writes into the repository
    assert os.environ.get("CHURN_HOME") != str(serving_stack.home)  # fixture restored the env
