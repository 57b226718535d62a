"""prefect.yaml is valid: `prefect deploy --all` registers every deployment on a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client

from flows.deploy import PROJECT_DIR, deploy_all


def _declared() -> list[dict[str, Any]]:
    spec = yaml.safe_load(Path(PROJECT_DIR, "prefect.yaml").read_text())
    return list(spec["deployments"])


def test_deploy_all_registers_every_deployment_with_its_schedule(prefect_server: str) -> None:
    deploy_all(prefect_server)
    with get_client(sync_client=True) as client:
        registered = {d.name: d for d in client.read_deployments()}
    for spec in _declared():
        dep = registered[spec["name"]]
        assert dep.entrypoint == spec["entrypoint"]
        assert dep.work_pool_name == "churn-local"
        assert set(spec.get("parameters", {})) <= set(
            dep.parameter_openapi_schema.get("properties", {})
        ), f"{spec['name']}: parameters not accepted by the flow"
        assert len(dep.schedules) == len(spec.get("schedules", []))
