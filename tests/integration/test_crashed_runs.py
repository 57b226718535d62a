"""A flow run whose process is killed is marked Crashed by the heartbeat automation; one that is
busy for longer than the crash window is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment

from core.settings import get_settings
from ops.automations import ensure_crash_automation

PROJECT = Path(__file__).resolve().parents[2]

SLEEPY = textwrap.dedent(
    """
    import time
    from prefect import flow

    @flow(name="sleepy")
    def sleepy(seconds: int = 600) -> None:
        time.sleep(seconds)

    if __name__ == "__main__":
        sleepy.serve(name="crash-test")
    """
)


# a flow run by hand as `python -m flows.<name>` runs one: the flows package is imported first
BUSY = textwrap.dedent(
    """
    import sys, time
    import flows
    from prefect import flow

    @flow(name=sys.argv[1])
    def busy(seconds: float) -> None:
        time.sleep(seconds)

    busy(float(sys.argv[2]))
    """
)


def _wait(predicate, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")


@pytest.mark.system  # moved out of make test (its 12-minute budget): several processes
def test_killed_deployment_run_is_marked_crashed(prefect_server: str, tmp_path: Path) -> None:
    (tmp_path / "sleepy.py").write_text(SLEEPY)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",  # pick the run up quickly
    }
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "sleepy.py"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the runner and the run die together
    )
    name = f"crash-test-{uuid.uuid4().hex[:8]}"
    try:
        with get_client(sync_client=True) as client:

            def deployment_id():  # type: ignore[no-untyped-def]
                try:
                    return client.read_deployment_by_name("sleepy/crash-test").id
                except Exception:
                    return None

            deployment = _wait(deployment_id, 90, "the served deployment to register")
            automation = ensure_crash_automation(after_s=40, name=name, deployment_id=deployment)
            run = run_deployment(deployment, timeout=0)
            _wait(
                lambda: client.read_flow_run(run.id).state_type == StateType.RUNNING,
                90,
                "the deployment run to start",
            )
            time.sleep(3)  # its first heartbeat is sent as it starts running
            os.killpg(proc.pid, signal.SIGKILL)  # no process is left to report anything
            proc.wait(timeout=10)
            killed = time.monotonic()
            assert client.read_flow_run(run.id).state_type == StateType.RUNNING
            _wait(
                lambda: client.read_flow_run(run.id).state_type == StateType.CRASHED,
                40 + 60,
                "the killed run to be marked Crashed",
            )
            state = client.read_flow_run(run.id).state
            assert state is not None and "no heartbeat for 40 s" in (state.message or "")
            print(f"marked Crashed {time.monotonic() - killed:.0f} s after the kill")
            client.delete_automation(automation)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.system
def test_busy_run_outlives_the_crash_window_and_a_killed_one_does_not(
    prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make declare`` on a 200 MB CSV was marked Crashed while it worked: it ran with Prefect's
    default heartbeat (180 s) against a 210 s window. Here the window is 40 s: a run busy for
    80 s beats every 30 s without being told to and completes; a killed one is Crashed."""
    monkeypatch.setenv("CHURN_CRASH_AFTER_S", "40")
    get_settings.cache_clear()
    flow_name = f"busy-{uuid.uuid4().hex[:8]}"
    automation = ensure_crash_automation(name=flow_name, flow_name=flow_name)
    get_settings.cache_clear()
    (tmp_path / "busy.py").write_text(BUSY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CHURN_"))}
    env |= {"PREFECT_API_URL": prefect_server, "CHURN_HOME": str(tmp_path / "home")}
    env |= {"PYTHONPATH": str(PROJECT)}

    def run(seconds: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "busy.py", flow_name, str(seconds)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"busy-{seconds}.log").open("w"),
            start_new_session=True,
        )

    busy, victim = run(80), run(600)
    try:
        with get_client(sync_client=True) as client:

            def running() -> list[UUID]:
                runs = client.read_flow_runs(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["RUNNING"]))
                    ),
                )
                return [r.id for r in runs] if len(runs) == 2 else []

            ids = _wait(running, 120, "both runs to start")
            time.sleep(3)  # the first heartbeat is sent as a run starts
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            assert busy.wait(timeout=150) == 0, (tmp_path / "busy-80.log").read_text()[-2000:]
            states = {i: client.read_flow_run(i).state_type for i in ids}
            assert StateType.COMPLETED in states.values(), states
            done = next(i for i, s in states.items() if s == StateType.COMPLETED)
            history = [s.type for s in client.read_flow_run_states(done)]
            assert StateType.CRASHED not in history, history
            killed = next(i for i in ids if i != done)
            _wait(
                lambda: client.read_flow_run(killed).state_type == StateType.CRASHED,
                60,
                "the killed run to be marked Crashed",
            )
            client.delete_automation(automation)
    finally:
        for proc in (busy, victim):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def test_crash_automation_follows_the_crash_window_setting(
    prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed CHURN_CRASH_AFTER_S reaches the automation a server already has."""
    name = f"window-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CHURN_CRASH_AFTER_S", "300")
    get_settings.cache_clear()
    first = ensure_crash_automation(name=name)
    monkeypatch.setenv("CHURN_CRASH_AFTER_S", "45")
    get_settings.cache_clear()
    assert ensure_crash_automation(name=name) == first
    get_settings.cache_clear()
    with get_client(sync_client=True) as client:
        (automation,) = client.read_automations_by_name(name=name)
        assert getattr(automation.trigger, "within", None) == timedelta(seconds=45)
        assert "no heartbeat for 45 s" in str(automation.actions[0].model_dump())
        client.delete_automation(first)
