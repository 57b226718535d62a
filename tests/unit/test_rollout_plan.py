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
