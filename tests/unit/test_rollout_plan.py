"""The rollout's decision: which served models must switch, given the champion aliases."""

from __future__ import annotations

import pytest

from ops.proxy import caddy_config, upstream_file
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
    dials = [r["handle"][-1]["upstreams"][0]["dial"] for r in routes]
    assert dials == [f"{{file.{upstream_file(m)}}}" for m in sorted(models, key=_last)]
    # the built-in model answers at /, after every prefixed route
    assert all(
        "match" not in r for r in routes if "churn-model" in r["handle"][-1]["upstreams"][0]["dial"]
    )


def _last(name: str) -> tuple[bool, str]:
    return (name == "churn-model", name)
