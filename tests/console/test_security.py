"""The console's guards: CSRF on every form, sessions that expire, throttled sign-in, cookie
flags, a CSP without inline scripts, a sender kept inside its scopes, and escaping."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from sqlalchemy import select, update

from clarion.store.api_models import AuditEntry
from clarion.store.console_models import StaffSession
from clarion.store.models import Campaign

from .conftest import PASSWORD, login


@pytest.fixture
def web(console_env, api_settings, store) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from clarion.api import create_app
    from clarion.settings import get_settings
    with TestClient(create_app(get_settings(), api_settings), follow_redirects=False) as c:
        yield c


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post("/console/login", data={"csrf": token, "email": email,
                                               "password": password, "next": "/console/"})


def csrf_of(client: Any, path: str = "/console/rules") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)  # type: ignore[union-attr]


def audit_rows(store, action: str) -> list[Any]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(AuditEntry.__table__).where(AuditEntry.action == action)).all()


def test_a_form_without_the_right_csrf_token_is_refused(web, make_staff, store) -> None:  # type: ignore[no-untyped-def]
    assert sign_in(web, make_staff("admin")).status_code == 303
    form = {"name": "clubs", "quiet_hours": "21:00-08:00"}
    assert web.post("/console/rules/categories", data=form).status_code == 403
    assert web.post("/console/rules/categories", data={**form, "csrf": "forged"}).status_code == 403
    assert audit_rows(store, "category.set") == []
    ok = web.post("/console/rules/categories", data={**form, "csrf": csrf_of(web)})
    assert ok.status_code == 303, ok.text
    [row] = audit_rows(store, "category.set")
    assert row.actor == "staff:admin0@campus.example.edu" and row.target == "clubs"


def test_sign_in_itself_needs_its_csrf_token(web, make_staff) -> None:  # type: ignore[no-untyped-def]
    email = make_staff("viewer")
    web.get("/console/login")
    answer = web.post("/console/login", data={"csrf": "guess", "email": email,
                                              "password": PASSWORD})
    assert answer.status_code == 403 and "clarion_session" not in answer.cookies


def test_an_expired_session_goes_back_to_sign_in(web, make_staff, store) -> None:  # type: ignore[no-untyped-def]
    sign_in(web, make_staff("operator"))
    assert web.get("/console/").status_code == 200
    with store.connect() as conn:
        conn.execute(update(StaffSession).values(
            expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    answer = web.get("/console/campaigns")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/campaigns"


def test_ten_wrong_passwords_throttle_the_address(web, make_staff) -> None:  # type: ignore[no-untyped-def]
    email = make_staff("admin")
    for _ in range(10):
        assert sign_in(web, email, "wrong password!").status_code == 401
    refused = sign_in(web, email)  # the right password, too late
    assert refused.status_code == 429 and "clarion_session" not in refused.cookies
    assert sign_in(web, make_staff("viewer")).status_code == 303  # others are not locked out


def test_cookies_are_httponly_lax_and_secure_over_tls(console_env, api_settings, store,  # type: ignore[no-untyped-def]
                                                      make_staff) -> None:
    from fastapi.testclient import TestClient

    from clarion.api import create_app
    from clarion.settings import get_settings
    email = make_staff("viewer")
    app = create_app(get_settings(), api_settings)
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(app, base_url=base, follow_redirects=False) as client:
            cookie = sign_in(client, email).headers["set-cookie"].lower()
            assert "clarion_session=" in cookie and "httponly" in cookie
            assert "samesite=lax" in cookie and ("secure" in cookie) is secure


def test_every_page_has_a_csp_without_inline_scripts(web, make_staff) -> None:  # type: ignore[no-untyped-def]
    from clarion.console.permissions import PAGES
    sign_in(web, make_staff("admin"))
    for _name, path, _p in PAGES:
        page = web.get(path)
        assert page.status_code == 200, path
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), path
        assert not re.search(r"\son[a-z]+=", page.text), path  # no inline handlers


def test_a_library_sender_sees_and_reaches_only_its_audiences(web, make_staff, store,  # type: ignore[no-untyped-def]
                                                              campus) -> None:
    campus(60)
    sign_in(web, make_staff("sender", categories=["library"], audiences=["role:teacher"],
                            channels=["email", "inbox"]))
    form = web.get("/console/compose").text
    roles = set(re.findall(r'name="roles\[\]" value="([^"]+)"', form))
    assert roles == {"teacher"}
    assert 'name="departments[]"' not in form and 'name="everyone"' not in form
    assert set(re.findall(r'name="channels\[\]" value="([^"]+)"', form)) == {"email", "inbox"}
    assert re.findall(r"<option(?: selected)?>([a-z]+)</option>", form.split('id="category"')[1]
                      .split("</select>")[0]) == ["library"]
    body = {"csrf": csrf_of(web, "/console/compose"), "nonce": "n1", "name": "Reach all",
            "category": "library", "priority": "normal", "roles[]": ["student"],
            "channels[]": ["email"], "content_mode": "inline", "title": "t", "body": "b",
            "action": "send"}
    refused = web.post("/console/compose", data=body)
    assert refused.status_code == 422 and "audience.roles" in refused.text
    refused = web.post("/console/compose", data={**body, "roles[]": ["teacher"],
                                                 "channels[]": ["sms"]})
    assert refused.status_code == 422 and "channels" in refused.text
    with store.read() as conn:
        assert conn.execute(select(Campaign.id)).all() == []


def test_payloads_in_names_render_as_text(site, browser, make_staff, store, campus) -> None:  # type: ignore[no-untyped-def]
    from clarion import content
    from clarion.domain import CampaignRequest
    from clarion.planning.routing import Route
    from clarion import campaigns
    campus(20)
    xss = '<img src=x onerror=alert(1)><script>alert(2)</script>'
    with store.connect() as conn:
        conn.exec_driver_sql("UPDATE recipients SET name = ? WHERE id = ?"
                             if store.is_sqlite else
                             "UPDATE recipients SET name = %s WHERE id = %s", (xss, "S000001"))
    content.save_template(store, "t-" + xss[:40].replace("/", ""), {"default": {"title": "a",
                                                                                "body": "b"}})
    request = CampaignRequest.model_validate({
        "name": xss, "audience": {"ids": ["S000001"]}, "channels": ["inbox"],
        "content": {"default": {"title": "t", "body": "b"}}, "idempotency_key": "xss"})
    campaign_id, _ = campaigns.register(store, request, Route(("inbox",), "all"))
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, site.url, make_staff("admin"))
    for path in ("/console/campaigns", f"/console/campaigns/{campaign_id}", "/console/templates",
                 "/console/directory?q=S000001", "/console/directory/S000001", "/console/"):
        page.goto(site.url + path)
        assert page.locator("img[src=x]").count() == 0, path
        assert page.get_by_text(xss[:30]).count() >= 1, path  # shown, as text
    assert dialogs == []
    context.close()
