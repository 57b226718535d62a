"""A deployment run whose processes are killed is marked Crashed by the heartbeat automation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment

from ops.automations import ensure_crash_automation

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


def _wait(predicate, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")


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
