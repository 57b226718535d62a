"""The automation that marks silent flow runs Crashed (Prefect's "zombie flow" recipe).

Every flow run sends a heartbeat event (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``; our entry points
and deployments use 30 s). A run whose process died — killed, out of memory, machine gone — stops
sending them and would stay Running forever; this proactive trigger fires when a run that sent a
heartbeat sends neither another one nor a final state within ``CRASH_AFTER_S`` and sets it to
Crashed. ``CRASH_AFTER_S`` exceeds Prefect's default heartbeat interval (180 s) so a run started
without our setting is never marked crashed while alive.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

CRASH_AUTOMATION = "churn: mark flow runs without heartbeat as Crashed"
CRASH_AFTER_S = 210.0
_FINAL = ("Completed", "Failed", "Cancelled", "Crashed")


def crash_automation(
    *,
    after_s: float = CRASH_AFTER_S,
    name: str = CRASH_AUTOMATION,
    deployment_id: UUID | None = None,
) -> AutomationCore:
    """The automation (not yet created); ``deployment_id`` limits it to that deployment's runs."""
    related: dict[str, Any] = {}
    if deployment_id is not None:
        related = {
            "prefect.resource.role": "deployment",
            "prefect.resource.id": f"prefect.deployment.{deployment_id}",
        }
    return AutomationCore(
        name=name,
        description=(
            f"A flow run that stops sending heartbeats for {after_s:.0f} s without reaching a "
            "final state lost its process: mark it Crashed instead of leaving it Running."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{s}" for s in _FINAL)},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(related) if related else [],
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=after_s),
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                force=False,
                message=(
                    f"no heartbeat for {after_s:.0f} s: the flow run's process died (killed, out "
                    "of memory or machine lost); rerun it"
                ),
            )
        ],
    )


def ensure_crash_automation(**kwargs: Any) -> UUID:
    """Create the crash automation on the current Prefect API unless one of that name exists."""
    wanted = crash_automation(**kwargs)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name=wanted.name)
        if existing:
            return existing[0].id
        return client.create_automation(automation=wanted)
