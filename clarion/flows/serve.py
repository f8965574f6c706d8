"""Serve the deployments of ``prefect.yaml`` from one process (``clarion serve``)."""

from __future__ import annotations

from prefect import serve

from .broadcast import broadcast


def deployments():  # type: ignore[no-untyped-def]
    return [broadcast.to_deployment(
        name="broadcast", tags=["clarion"],
        description="Send a notice to an audience over some channels.",
        parameters={"wait": True})]


def serve_deployments() -> None:
    serve(*deployments(), limit=20)
