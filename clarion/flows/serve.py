"""Serve the deployments of ``prefect.yaml`` from one process (``clarion serve``)."""

from __future__ import annotations

from prefect import serve
from prefect.deployments.runner import EntrypointType

from clarion.flows.broadcast import broadcast
from clarion.flows.learning import retrain_models
from clarion.flows.waiting import digests, release_deferred

RELEASE_EVERY_S = 60


def deployments():  # type: ignore[no-untyped-def]
    module = EntrypointType.MODULE_PATH
    return [
        broadcast.to_deployment(
            name="broadcast", tags=["clarion"],
            description="Send a notice to an audience over some channels.",
            parameters={"wait": True}, entrypoint_type=module),
        release_deferred.to_deployment(
            name="release-deferred", tags=["clarion"], interval=RELEASE_EVERY_S,
            concurrency_limit=1, entrypoint_type=module,
            description="Publish deferred deliveries whose quiet hours are over."),
        digests.to_deployment(
            name="digests", tags=["clarion"], cron="5 * * * *", concurrency_limit=1,
            entrypoint_type=module,
            description="Send each digest category's collected deliveries, one per person."),
        retrain_models.to_deployment(
            name="retrain-models", tags=["clarion"], cron="30 3 * * 0", concurrency_limit=1,
            entrypoint_type=module,
            description="Retrain the category model from the site's notices (promoted only "
                        "if at least as good) and learn each person's profile."),
    ]


def serve_deployments() -> None:
    serve(*deployments(), limit=20)
