"""The rollout's decision: which served models must switch, given the champion aliases."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.settings import get_settings
from ops.proxy import caddy_config, proxy_command, upstream_file, write_config
from ops.rollout import Switch, plan_switches


def test_plan_switches_alias_moved_switches() -> None:
    plan = plan_switches({"churn-model": "1"}, {"churn-model": "2"}, {})
    assert plan == [Switch("churn-model", "1", "2")]


def test_plan_switches_unchanged_does_nothing() -> None:
    assert plan_switches({"churn-model": "2", "churn-a": "1"},
                         {"churn-model": "2", "churn-a": "1"}, {}) == []  # fmt: skip


def test_plan_switches_rollback_and_new_model() -> None:
    plan = plan_switches({"churn-model": "3"}, {"churn-model": "2", "churn-a": "1"}, {})
    assert plan == [Switch("churn-a", None, "1"), Switch("churn-model", "3", "2")]


def test_plan_switches_failed_version_not_retried() -> None:
    assert plan_switches({"churn-model": "1"}, {"churn-model": "2"}, {"churn-model": "2"}) == []
    # once the alias points at another version, that one is tried
    plan = plan_switches({"churn-model": "1"}, {"churn-model": "3"}, {"churn-model": "2"})
    assert plan == [Switch("churn-model", "1", "3")]


def test_plan_switches_alias_removed_keeps_serving() -> None:
    assert plan_switches({"churn-model": "1"}, {}, {}) == []


@pytest.mark.parametrize("models", [["churn-model"], ["churn-a", "churn-model"], ["churn-a"]])
def test_caddy_config_routes_every_model(models: list[str]) -> None:
    routes = caddy_config(models, port=3999)["apps"]["http"]["servers"]["churn"]["routes"]
    if "churn-model" not in models:  # the last route says that the built-in model is not served
        assert routes.pop()["handle"][0]["status_code"] == 503
    dials = [r["handle"][-1]["upstreams"][0]["dial"] for r in routes]
    assert dials == [f"{{file.{upstream_file(m)}}}" for m in sorted(models, key=_last)]
    # the built-in model answers at /, after every prefixed route
    assert all(
        "match" not in r for r in routes if "churn-model" in r["handle"][-1]["upstreams"][0]["dial"]
    )


def _last(name: str) -> tuple[bool, str]:
    return (name == "churn-model", name)


def test_caddy_config_is_valid_for_caddy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        config = write_config(["churn-model", "churn-a"], port=3999)
        cmd = proxy_command(config)
        done = subprocess.run([cmd[0], "validate", *cmd[2:]], capture_output=True, text=True)
    finally:
        get_settings.cache_clear()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Valid configuration" in done.stdout + done.stderr


def test_a_build_that_bentoml_refuses_keeps_the_follower_and_the_old_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a replay the retrain built its promoted version's bento while the follower built it
    too; BentoML refused the second import ("already exists"), the exception left the follower's
    loop and the follower, with the proxy and the API, went down. Now the follower keeps serving
    the old version and tries again at the next poll (build_bento also takes a per-version lock
    so that the two builds no longer collide)."""
    from bentoml.exceptions import BentoMLException

    import tasks.deploy
    from ops.rollout import Follower

    def refused(version: str, *, model_name: str | None = None) -> None:
        raise BentoMLException(f"Item '{model_name}:v{version}-abc' already exists in the store")

    monkeypatch.setattr(tasks.deploy, "build_bento", refused)
    follower = Follower(port=1, drain_s=0)
    follower.switch(Switch("churn-model", "1", "3"))  # did raise BentoMLException
    assert follower.served == {} and follower.failed == {}  # not given up: the next poll retries
    assert plan_switches({"churn-model": "1"}, {"churn-model": "3"}, follower.failed) == [
        Switch("churn-model", "1", "3")
    ]
