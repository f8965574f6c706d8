"""Flow runs whose process was lost are rescheduled, so that another worker runs them again.

A Prefect worker SIGKILLed with the flow run it started (or the machine under them lost)
leaves that run ``Running`` for ever: nothing in Prefect ends or retries it.  Flow runs started
by a worker send a heartbeat every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (set in the
work pool's environment, ``prefect.yaml``); this automation sees the heartbeats stop before
the run ended and sets the run back to ``Scheduled``, and a worker of the pool, on any machine,
runs it from the start.  The broadcast flow is safe to repeat: the campaign is registered
once, a fan-out inserts only what is new and publishes again only what is not yet sent, and
a worker claims each delivery before it sends it.

    python -m clarion.flows.recovery [--within SECONDS]   # once per Prefect server
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import (
    AutomationCore, EventTrigger, Posture, ResourceSpecification,
)

NAME = "clarion: reschedule flow runs whose heartbeats stopped"
HEARTBEAT = "prefect.flow-run.heartbeat"
ENDED = ("Completed", "Failed", "Cancelled", "Crashed", "Cancelling", "Paused", "Scheduled")


def lost_run_automation(within_s: float = 90) -> AutomationCore:
    """After a heartbeat, expect another one (or the run's end) within ``within_s``; if none
    comes, reschedule the run (forced: it is ``Running`` with no process behind it)."""
    return AutomationCore(
        name=NAME,
        description="A flow run that stopped sending heartbeats lost its process; run it "
                    "again on a worker of its pool (clarion/flows/recovery.py).",
        trigger=EventTrigger(
            after={HEARTBEAT},
            expect={HEARTBEAT, *(f"prefect.flow-run.{state}" for state in ENDED)},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_s),
        ),
        actions=[ChangeFlowRunState(
            state=StateType.SCHEDULED, name="Rescheduled", force=True,
            message=f"no heartbeat for {within_s:.0f}s: its process was lost; rescheduled")],
    )


async def ensure_lost_run_automation(within_s: float = 90) -> UUID:
    """Create the automation on the server of ``PREFECT_API_URL`` unless it is there."""
    async with get_client() as client:
        for existing in await client.read_automations_by_name(NAME):
            return existing.id
        return await client.create_automation(lost_run_automation(within_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--within", type=float, default=90,
                        help="seconds without a heartbeat before a run counts as lost "
                             "(more than the heartbeat interval; default 90)")
    args = parser.parse_args()
    print(asyncio.run(ensure_lost_run_automation(args.within)))


if __name__ == "__main__":
    main()
