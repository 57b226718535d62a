"""A registry and warehouse written by the code before churn definitions and the one gate rule
(commit ``BASE``) keep working: its champion's bento, built by today's code, answers by id from
the store it materialized, and a model trained today is compared with it like for like.

Real everything: the old tree runs in a process of its own (``git archive``), today's code builds
and serves the bento over HTTP and gates a new version."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.db import make_engine
from core.settings import get_settings
from core.stores import prepare_stores
from core.tables import online_features
from tests.serving.conftest import start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
BASE = "2dee39f"  # main before this change: versions without gate.situation, owndata naming
OLD_RUN = textwrap.dedent(
    """
    import os
    from pathlib import Path

    from tests.model.pipeline import build_warehouse

    build_warehouse(Path(os.environ["CHURN_HOME"]), customers=500, months=8, seed=3)
    from flows.build_features import build_features
    from flows.train import train

    summary = train(min_auc=0.51, max_cutoffs=5)
    assert summary["decision"] == "promoted", summary
    build_features()
    """
)


def _old_tree(folder: Path) -> Path:
    archive = subprocess.run(["git", "archive", BASE], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.skip(f"needs a git checkout holding commit {BASE}: {archive.stderr[:200]!r}")
    folder.mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


@pytest.mark.system
def test_champion_of_the_previous_code_keeps_serving(tmp_path: Path, prefect_server: str) -> None:
    old, home = _old_tree(tmp_path / "old"), tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHURN_", "PREFECT_HOME", "BENTOML_HOME"))
    }
    env |= {"CHURN_HOME": str(home), "PYTHONPATH": str(old), "PREFECT_API_URL": prefect_server}
    done = subprocess.run(
        [sys.executable, "-c", OLD_RUN], cwd=old, env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    from flows.train import train
    from tasks.deploy import build_bento, champion_version, serve_env

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(home))
        for key in ("CHURN_DATABASE_URL", "CHURN_MLFLOW_TRACKING_URI"):
            mp.delenv(key, raising=False)
        get_settings.cache_clear()
        # the upgrade: today's code migrates the warehouse (make serve and every flow do); the
        # old store's rows become the built-in catalog's view, nothing is rematerialized
        prepare_stores(tracking=False)
        version = champion_version()
        built = build_bento(version)
        engine = make_engine(get_settings().database_url)
        with engine.connect() as conn:
            ids = conn.execute(select(online_features.c.customer_id).limit(3)).scalars().all()
        engine.dispose()
        server = start_server(built.tag, serve_env(), tmp_path)
        try:
            answer = httpx.post(f"{server.url}/predict", json={"customer_ids": ids}, timeout=30)
        finally:
            stop_server(server)
        # today's code trains on the same data: compared with the old champion on the same rows
        summary = train(min_auc=0.51, max_cutoffs=5)
    get_settings.cache_clear()
    assert version == "1"
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == "1" and len(body["predictions"]) == 3
    assert all(0 <= p["probability"] <= 1 for p in body["predictions"])
    assert (summary["model_version"], summary["decision"]) == ("2", "rejected"), summary
    assert summary["previous_champion"] == "1" and summary["previous_champion_auc"] is not None
    assert summary["reason"].startswith("not better on the same data")
