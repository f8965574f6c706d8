"""Serve the deployments of ``prefect.yaml`` from one process (``clarion serve``).

The same entries as ``prefect deploy --all`` (parameters and schedules included), without a
work pool: runs start in subprocesses of this one.  A deployment that ``prefect deploy`` bound
to a work pool is not taken over unless asked (``--take-over``): it would silently move every
run of it from the pool's workers to this process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from clarion.flows.project import DeploymentSpec, deployment_specs, schedule_of

SERVE_LIMIT = 20  # flow runs at once


class BoundToWorkPool(Exception):
    """Deployments that ``prefect deploy`` bound to a work pool: {full name: pool}."""

    def __init__(self, bound: dict[str, str]):
        super().__init__(", ".join(f"{k} (work pool {v!r})" for k, v in bound.items()))
        self.bound = bound


def runner_deployment(spec: DeploymentSpec) -> Any:
    from prefect.deployments.runner import EntrypointType
    return spec.load_flow().to_deployment(
        name=spec.name, description=spec.description or None, tags=spec.tags,
        parameters=spec.parameters, schedules=[schedule_of(s) for s in spec.schedules],
        concurrency_limit=spec.concurrency_limit, entrypoint_type=EntrypointType.MODULE_PATH)


def deployments() -> list[Any]:
    return [runner_deployment(spec) for spec in deployment_specs()]


async def bound_to_work_pools(full_names: list[str]) -> dict[str, str]:
    """Which of these deployments exist on the server bound to a work pool."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    bound = {}
    async with get_client() as client:
        for name in full_names:
            try:
                existing = await client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                bound[name] = existing.work_pool_name
    return bound


def serve_deployments(take_over: bool = False) -> None:
    runners = deployments()
    if not take_over:
        names = [f"{d.flow_name}/{d.name}" for d in runners]
        bound = asyncio.run(bound_to_work_pools(names))
        if bound:
            raise BoundToWorkPool(bound)
    from prefect import serve
    serve(*runners, limit=SERVE_LIMIT)
