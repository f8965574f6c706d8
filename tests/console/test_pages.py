"""The console's pages that change things, through the whole app: templates (preview,
variable check, versions), the directory (CSV import with bad rows by line, segments used
in Compose), rules and preferences (through planning.config: refused naming the field),
access (a key shown once, rotated, revoked; staff made and disabled), the audit log filter,
and the language of each member."""

from __future__ import annotations

import re

import pytest

from sqlalchemy import select

from clarion import content, security
from clarion.planning import config
from clarion.store import console as sql
from clarion.store import policy as policy_sql
from clarion.store.api_models import AuditEntry

from .test_security import csrf_of, sign_in, web  # noqa: F401 - the fixture


def actions(store, actor: str) -> list[str]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return list(conn.execute(select(AuditEntry.action).where(AuditEntry.actor == actor)
                                 .order_by(AuditEntry.id)).scalars())


TEMPLATE = {"title": "Exams", "body": "Dear {{ recipient.name }}, exams start {{ day }}.",
            "sms_text": "Exams start {{ day }}"}


def test_a_template_previews_checks_variables_saves_and_keeps_versions(web, make_staff,  # type: ignore[no-untyped-def]
                                                                       store) -> None:
    email = make_staff("operator")
    sign_in(web, email)
    token = csrf_of(web, "/console/templates/exams")
    missing = web.post("/console/templates/preview", data={"csrf": token, **TEMPLATE})
    assert missing.status_code == 422 and "variables.day" in missing.text
    shown = web.post("/console/templates/preview",
                     data={"csrf": token, **TEMPLATE, "variables": "day=Monday"})
    assert shown.status_code == 200 and "Exams start Monday" in shown.text
    assert "segments" in shown.text  # the SMS's length and parts
    bad = web.post("/console/templates/exams", data={"csrf": token, "title": "{{ oops",
                                                     "body": "b"})
    assert bad.status_code == 422 and "content.default.title" in bad.text
    with pytest.raises(content.ContentError):  # nothing stored
        content.load_template(store, "exams")
    assert sql.template_versions(store, "exams") == []
    for body in ("first {{ day }}", "second {{ day }}"):
        saved = web.post("/console/templates/exams",
                         data={"csrf": token, **TEMPLATE, "body": body, "variables": "day=1"})
        assert saved.status_code == 303, saved.text
    assert content.load_template(store, "exams")["default"]["body"] == "second {{ day }}"
    versions = sql.template_versions(store, "exams")
    assert [v["variants"]["default"]["body"] for v in versions] == ["second {{ day }}",
                                                                    "first {{ day }}"]
    assert len(re.findall(r"<td>" + re.escape(email), web.get("/console/templates/exams").text)) == 2
    assert actions(store, f"staff:{email}") == ["template.save", "template.save"]


def test_csv_import_shows_bad_rows_by_line_and_a_segment_feeds_compose(web, make_staff,  # type: ignore[no-untyped-def]
                                                                       store) -> None:
    sign_in(web, make_staff("admin"))
    token = csrf_of(web, "/console/directory")
    csv = ("id,name,roles,department,grade,locale,email,phone,wecom_userid\n"
           "S1,Li Lei,student,Physics,2024,zh-CN,s1@campus.example.edu,+8613800000001,s1\n"
           "S2,Han Meimei,student,Physics,2024,zh-CN,not-an-address,+8613800000002,s2\n"
           "S3,Jim,reader,Library,,en,s3@campus.example.edu,,\n")
    page = web.post("/console/directory/import", data={"csrf": token},
                    files={"file": ("people.csv", csv.encode(), "text/csv")})
    assert page.status_code == 200
    assert re.search(r'id="import-loaded">2 ', page.text)
    assert re.search(r"<td>3</td><td>email: [^<]*not-an-address", page.text), page.text
    person = web.get("/console/directory/S1").text
    assert "s1@campus.example.edu" in person and "Physics" in person
    assert web.get("/console/directory?q=Han").text.count("/console/directory/S2") == 0
    saved = web.post("/console/directory/segments", data={"csrf": token, "name": "physics-2024",
                                                          "departments[]": ["Physics"]})
    assert saved.status_code == 303
    compose = web.get("/console/compose").text
    assert "<option>physics-2024</option>" in compose
    preview = web.post("/console/compose/preview", data={
        "csrf": token, "nonce": "x", "name": "n", "category": "general", "priority": "normal",
        "segment": "physics-2024", "channels[]": ["inbox"], "content_mode": "inline",
        "title": "t", "body": "b"})
    assert re.search(r'id="recipient-count">1<', preview.text), preview.text


def test_rules_and_preferences_go_through_the_policy_checks(web, make_staff, store, campus  # type: ignore[no-untyped-def]
                                                            ) -> None:
    campus(5)
    email = make_staff("admin")
    sign_in(web, email)
    token = csrf_of(web)
    bad = web.post("/console/rules/categories", data={"csrf": token, "name": "clubs",
                                                      "quiet_hours": "25:00-07:00"})
    assert bad.status_code == 422 and "quiet_hours" in bad.text
    assert "clubs" not in {c.name for c in config.list_categories(store)}
    assert web.post("/console/rules/categories", data={
        "csrf": token, "name": "clubs", "cap_per_day": "2", "digest": "week mon 08:00"}
    ).status_code == 303
    clubs = {c.name: c for c in config.list_categories(store)}["clubs"]
    assert clubs.cap_per_day == 2 and clubs.digest.weekday == "mon"
    refused = web.post("/console/rules/routing", data={"csrf": token, "category": "clubs",
                                                       "channels[]": ["pigeon"], "mode": "first"})
    assert refused.status_code == 422 and "pigeon" in refused.text
    assert web.post("/console/rules/routing", data={
        "csrf": token, "category": "clubs", "channels[]": ["inbox", "email"], "mode": "fallback"}
    ).status_code == 303
    assert [(r["channels"], r["mode"]) for r in policy_sql.rules(store)
            if r["category"] == "clubs"] == [(["inbox", "email"], "fallback")]
    critical = web.post("/console/rules/preferences", data={
        "csrf": token, "recipient_id": "S000001", "category": "emergency", "opted_in": "out"})
    assert critical.status_code == 422 and "critical" in critical.text
    assert web.post("/console/rules/preferences", data={
        "csrf": token, "recipient_id": "S000001", "category": "clubs", "channel": "email",
        "opted_in": "out"}).status_code == 303
    assert web.post("/console/rules/routing/delete", data={
        "csrf": token, "category": "clubs", "source": "*"}).status_code == 303
    assert actions(store, f"staff:{email}") == ["category.set", "rule.set", "preferences.set",
                                                "rule.delete"]


def test_access_shows_a_key_once_rotates_revokes_and_manages_staff(web, make_staff, store,  # type: ignore[no-untyped-def]
                                                                   api_settings) -> None:
    email = make_staff("admin")
    sign_in(web, email)
    token = csrf_of(web, "/console/access")
    made = web.post("/console/access/keys", data={
        "csrf": token, "system": "library", "categories": "library,general",
        "audiences": "role:reader", "channels": "email", "abilities[]": ["preferences"]})
    key = re.search(r'id="new-secret">(clk_[^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    principal = security.verify_key(store, api_settings, key)
    assert principal.system == "library" and principal.scopes.audiences == ("role:reader",)
    assert key not in web.get("/console/access").text  # shown once
    key_id = principal.key_id
    rotated = web.post(f"/console/access/keys/{key_id}/rotate", data={"csrf": token})
    new_key = re.search(r'id="new-secret">(clk_[^<]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert security.verify_key(store, api_settings, key) is None
    assert security.verify_key(store, api_settings, new_key) is not None
    assert web.post(f"/console/access/keys/{key_id}/revoke", data={"csrf": token}).status_code == 303
    assert security.verify_key(store, api_settings, new_key) is None
    weak = web.post("/console/access/staff", data={"csrf": token, "email": "x@campus.example.edu",
                                                   "role": "viewer", "password": "short"})
    assert weak.status_code == 422 and "password" in weak.text
    assert web.post("/console/access/staff", data={
        "csrf": token, "email": "lib@campus.example.edu", "role": "sender",
        "password": "a long password", "categories": "library", "audiences": "role:reader"}
    ).status_code == 303
    lib = sql.staff_by_email(store, "lib@campus.example.edu")
    assert lib["scopes"]["audiences"] == ["role:reader"]
    assert web.post(f"/console/access/staff/{lib['id']}/disable", data={"csrf": token}
                    ).status_code == 303
    assert sign_in(web, "lib@campus.example.edu", "a long password").status_code == 401
    sign_in(web, email)
    assert actions(store, f"staff:{email}") == ["apikey.create", "apikey.rotate",
                                                "apikey.revoke", "staff.create", "staff.disable"]
    audit = web.get("/console/audit?action=apikey").text
    assert audit.count("<td>apikey.") == 3 and "staff.create" not in audit


def test_each_member_chooses_the_language(web, make_staff) -> None:  # type: ignore[no-untyped-def]
    sign_in(web, make_staff("viewer", locale="zh-CN"))
    assert "<h1>概览</h1>" in web.get("/console/").text
    token = csrf_of(web, "/console/")
    assert web.post("/console/locale", data={"csrf": token, "locale": "en"},
                    headers={"referer": "http://testserver/console/campaigns"}
                    ).headers["location"] == "/console/campaigns"
    assert "<h1>Overview</h1>" in web.get("/console/").text
    assert '<html lang="en">' in web.get("/console/").text
