"""The automation that marks silent flow runs Crashed (Prefect's "zombie flow" recipe).

Every flow run sends a heartbeat event every 30 s (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, set
for every process in ``core.homes``). A run whose process died — killed, out of memory, machine
gone — stops sending them and would stay Running forever; this proactive trigger fires when a run
that sent a heartbeat sends neither another one nor a final state within the crash window
(``CHURN_CRASH_AFTER_S``, 210 s: seven beats) and sets it to Crashed. The window also exceeds
Prefect's default heartbeat interval (180 s), so a run started outside the project (a bare
``prefect`` process) is not marked Crashed while alive either.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from core.settings import get_settings

log = logging.getLogger(__name__)
CRASH_AUTOMATION = "churn: mark flow runs without heartbeat as Crashed"
_FINAL = ("Completed", "Failed", "Cancelled", "Crashed")


def crash_automation(
    *,
    after_s: float | None = None,
    name: str = CRASH_AUTOMATION,
    deployment_id: UUID | None = None,
    flow_name: str | None = None,
) -> AutomationCore:
    """The automation (not yet created) with a window of ``after_s`` (default: the
    ``crash_after_s`` setting); ``deployment_id`` or ``flow_name`` limits it to the runs of
    that deployment or flow."""
    after_s = get_settings().crash_after_s if after_s is None else after_s
    related: dict[str, Any] = {}
    if deployment_id is not None:
        related = {
            "prefect.resource.role": "deployment",
            "prefect.resource.id": f"prefect.deployment.{deployment_id}",
        }
    elif flow_name is not None:
        related = {"prefect.resource.role": "flow", "prefect.resource.name": flow_name}
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
    """Create the crash automation on the current Prefect API, or bring the one of that name to
    the window asked for (a changed ``CHURN_CRASH_AFTER_S`` applies to the next run)."""
    wanted = crash_automation(**kwargs)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name=wanted.name)
        if not existing:
            return client.create_automation(automation=wanted)
        current = existing[0]
        window = getattr(wanted.trigger, "within", None)
        if getattr(current.trigger, "within", None) != window:
            client.update_automation(current.id, wanted)
            log.info("crash automation %r updated: %s", wanted.name, wanted.description)
        return current.id
