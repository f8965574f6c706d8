"""Serve the deployments of ``prefect.yaml`` from one process (``clarion serve``)."""

from __future__ import annotations

from prefect import serve
from prefect.deployments.runner import EntrypointType

from clarion.flows.broadcast import broadcast


def deployments():  # type: ignore[no-untyped-def]
    return [broadcast.to_deployment(
        name="broadcast", tags=["clarion"],
        description="Send a notice to an audience over some channels.",
        parameters={"wait": True}, entrypoint_type=EntrypointType.MODULE_PATH)]


def serve_deployments() -> None:
    serve(*deployments(), limit=20)
