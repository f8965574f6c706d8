"""Directory: people (search; one person's channels, preferences and recent deliveries),
saved segments, CSV import with the bad rows shown by line."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from ... import directory
from ...domain import Audience
from ...errors import NotFound
from ...planning import config
from ...store import audit
from ...store import console as sql
from ...store import console_directory as people
from ...store import deliveries
from ..web import Ctx, page, redirect, render

router = APIRouter()
CONTACTS = ("email", "phone", "wecom_userid", "wechat_openid")


def _page(ctx: Ctx, status: int = 200, **values: object) -> Response:
    store, q = ctx.state.store, ctx.query("q")[:200]
    found = people.find_people(store, q) if q else people.list_people(store, ctx.query("after"))
    return render(ctx, "directory.html", status, q=q, people=found, contacts=CONTACTS,
                  segments=sql.segments(store), options=people.audience_options(store),
                  **values)


@page(router, "GET", "/directory", "directory.view")
def directory_page(ctx: Ctx) -> Response:
    return _page(ctx)


@page(router, "GET", "/directory/{recipient_id}", "directory.view")
def person_page(ctx: Ctx) -> Response:
    store, rid = ctx.state.store, ctx.param("recipient_id")
    person = people.person(store, rid)
    if person is None:
        return render(ctx, "not_found.html", 404, what=rid)
    try:
        prefs = config.preferences_view(store, rid)
    except NotFound:
        prefs = []
    return render(ctx, "person.html", p=person, contacts=CONTACTS, prefs=prefs,
                  recent=deliveries.for_recipient(store, rid, limit=20))


@page(router, "POST", "/directory/import", "directory.import")
def import_page(ctx: Ctx) -> Response:
    upload = ctx.form.get("file")
    if upload is None or not hasattr(upload, "file"):
        return _page(ctx, 422, error="file: choose a CSV file")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "people.csv"
        path.write_bytes(upload.file.read())
        try:
            report = directory.import_csv(ctx.state.store, path)
        except directory.DirectoryError as exc:
            return _page(ctx, 422, error=str(exc))
    from ...api.audit import write
    write(ctx.state.store, audit.entry(ctx.staff.actor, "directory.import", upload.filename,
                                       "ok", f"{report.loaded} loaded, "
                                             f"{len(report.errors)} bad rows"))
    return _page(ctx, report=report)


@page(router, "POST", "/directory/segments", "directory.import")
def save_segment(ctx: Ctx) -> Response:
    name = ctx.field("name")[:120]
    try:
        audience = Audience(roles=ctx.fields("roles"), departments=ctx.fields("departments"),
                            grades=ctx.fields("grades"))
    except ValueError:
        return _page(ctx, 422, error="audience: pick roles, departments or grades")
    if not name:
        return _page(ctx, 422, error="name: give the segment a name")
    sql.put_segment(ctx.state.store, name, audience.model_dump(), ctx.staff.email,
                    audit.entry(ctx.staff.actor, "segment.save", name, "ok",
                                audience.model_dump_json(exclude_defaults=True)))
    return redirect("/console/directory")
