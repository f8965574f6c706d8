"""The high-availability drill as a test (tests/ha/drill.py has the set-up and the faults).

Worker hosts in network namespaces, a 3-node RabbitMQ cluster with quorum queues, PostgreSQL,
a Prefect server with process workers on two hosts: an emergency campaign loses nothing
while, one case each, the node leading its urgent lanes stops, a worker host's link is cut,
PostgreSQL restarts, the Prefect worker running its fan-out is SIGKILLed; and a campaign
started while the urgent lanes' leader node is down completes.  Duplicates at the providers
are allowed only as far as deliveries were in flight (taken over from a lost holder, or
retried).  Needs root; under CI=true a missing capability fails, it never skips.

CLARION_HA_TEST_RECIPIENTS sets the campus (default 2,000: 6,000 deliveries a campaign).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..conftest import need
from . import drill
from .stack import missing_capabilities

RECIPIENTS = int(os.environ.get("CLARION_HA_TEST_RECIPIENTS", "2000"))
pytestmark = [pytest.mark.slow, pytest.mark.ha_drill, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[drill.Stack]:
    missing = missing_capabilities()
    need("the HA drill's parts", not missing, "it needs " + ", ".join(missing))
    root = tmp_path_factory.mktemp("ha-drill")
    with drill.Stack(drill.Settings(recipients=RECIPIENTS, root=root, keep=True)) as s:
        yield s


def run(stack: drill.Stack, case: str) -> dict[str, Any]:
    result = drill.run_case(stack, case)
    summary = {k: v for k, v in result.items() if k != "progress"}
    print(json.dumps(summary, indent=1, default=str))  # the figures, with -s or on failure
    out = Path(os.environ.get("CLARION_HA_TEST_RESULTS", stack.root / "results.jsonl"))
    with out.open("a") as f:
        f.write(json.dumps(summary, default=str) + "\n")
    return result


def assert_nothing_lost(r: dict[str, Any]) -> None:
    assert r["all_final"], f"not every delivery ended final: {r['counts']}"
    assert r["lost"] == 0, f"lost: {r['lost']} ({r['sent_not_at_provider']}, {r['counts']})"
    assert {by.get("sent", 0) for by in r["counts"].values()} == {r["recipients"]}, r["counts"]
    assert r["inbox_rows"] == r["recipients"]
    assert r["campaign_status"] == "completed" and r["flow_run"]["state"] == "Completed"
    assert r["duplicates_total"] <= r["takeovers"] + r["retries"], (
        f"duplicates {r['duplicates']} beyond what was in flight "
        f"(takeovers {r['takeovers']}, retries {r['retries']})")


@pytest.mark.parametrize("case", ["rabbit-leader", "link-cut", "postgres"])
def test_a_fault_mid_campaign_loses_nothing(stack: drill.Stack, case: str) -> None:
    r = run(stack, case)
    assert_nothing_lost(r)
    (fault,) = r["faults"].values()
    assert fault["final_at_fault"] < r["deliveries"], "the fault came after the campaign"


def test_the_prefect_kill_is_recovered_by_rescheduling(stack: drill.Stack) -> None:
    r = run(stack, "prefect-kill")
    assert_nothing_lost(r)
    (fault,) = r["faults"].values()
    assert fault["flow_run_rescheduled_s"] is not None and fault["fan_out_resumed_s"]
    assert r["flow_run"]["run_count"] == 2  # the same flow run, run again on another host


def test_a_campaign_started_with_the_urgent_lanes_leader_down_completes(
        stack: drill.Stack) -> None:
    r = run(stack, "leader-down-before-start")
    assert_nothing_lost(r)
    (fault,) = r["faults"].values()
    assert fault["leaders_moved_s"] is not None
