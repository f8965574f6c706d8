"""``create_app``: the FastAPI application with its routers, middleware and error shape."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from ..security import ApiSettings
from ..settings import Settings, get_settings
from ..store.db import store_for
from . import docs, errors
from .middleware import BodyLimit, Metrics
from .publishing import SharedPublisher
from .routes import (campaigns, deliveries, inbox, links, messages, ops, policy,
                     preferences, receipts, unsubscribe)
from .state import ApiState


def create_app(settings: Settings | None = None, api_settings: ApiSettings | None = None
               ) -> FastAPI:
    settings = settings or get_settings()
    api = api_settings or ApiSettings()
    st = ApiState(settings, api, store_for(settings.db_url), SharedPublisher(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await st.publisher.close()
        st.audit_trail.flush_now()  # what was noted in the last moment, while the store is here

    app = FastAPI(title="Clarion", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Campus notifications: campaigns, transactional messages, "
                              "delivery receipts and the campus app's inbox.")
    app.state.clarion = st
    errors.install(app)
    docs.install(app)  # /docs and /redoc from installed assets: no CDN needed
    for module in (campaigns, messages, deliveries, receipts, preferences, inbox, policy,
                   unsubscribe, links, ops):
        app.include_router(module.router)
    from ..console import mount
    mount(app, st)  # the staff console at /console
    app.add_middleware(BodyLimit, limit=api.api_max_body_bytes)
    app.add_middleware(Metrics)
    return app
