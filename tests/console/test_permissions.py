"""One permission table for the console and the API: every route declares a permission
(a new page or route without one fails here), and each role × page is tried in the browser —
shown to the roles that may see it, refused (403 page) to the others, and the sign-in page
for nobody signed in."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from clarion.console.permissions import API_ROUTES, PAGES, PERMISSIONS, ROLES, allowed
from clarion.console.routes_walk import walk
from clarion.console.web import DECLARED

from ..api.conftest import LiveServer

FRAMEWORK = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/docs-assets")  # public docs


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An app on a database of its own, with one signed-in member per role."""
    from clarion.api import create_app
    from clarion.console.accounts import create_staff, staff
    from clarion.console.sessions import open_session
    from clarion.console.settings import ConsoleSettings
    from clarion.security import ApiSettings
    from clarion.settings import load_settings
    from clarion.store.db import store_for
    root = tmp_path_factory.mktemp("matrix")
    settings = load_settings(data_dir=root, database_url=f"sqlite:///{root / 'c.db'}",
                             broker_namespace="t-matrix")
    app = create_app(settings, ApiSettings())
    store = store_for(settings.db_url)
    tokens = {}
    for role in ROLES:
        scopes = {"categories": ["library"], "audiences": ["role:reader"]} if role == "sender" else {}
        member = staff(store, create_staff(store, f"{role}@campus.example.edu", "x" * 12, role,
                                           "test", **scopes))
        tokens[role] = open_session(store, ConsoleSettings(), member).token  # type: ignore[arg-type]
    server = LiveServer(app)
    yield {"app": app, "url": server.url, "tokens": tokens}
    server.stop()


def test_every_console_route_declares_a_permission(matrix) -> None:  # type: ignore[no-untyped-def]
    console = [(m, p) for m, p, _r in walk(matrix["app"].routes) if p.startswith("/console")]
    assert len(console) > 30
    undeclared = [r for r in console if r not in DECLARED]
    assert undeclared == [], f"console routes without a permission: {undeclared}"
    assert set(DECLARED.values()) <= set(PERMISSIONS)


def test_every_api_route_is_in_the_permission_table(matrix) -> None:  # type: ignore[no-untyped-def]
    api = {(m, p) for m, p, _r in walk(matrix["app"].routes)
           if not p.startswith("/console") and p not in FRAMEWORK}
    assert api - set(API_ROUTES) == set(), "API routes without a permission"
    assert set(API_ROUTES) - api == set(), "permissions of routes that do not exist"
    assert set(API_ROUTES.values()) <= set(PERMISSIONS)


def test_every_permission_names_known_roles() -> None:
    assert all(roles <= set(ROLES) for roles in PERMISSIONS.values())
    assert {p for _n, _path, p in PAGES} <= set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,path,permission", PAGES, ids=[p[0] for p in PAGES])
def test_role_sees_or_is_refused_each_page(matrix, browser, role: str, name: str, path: str,  # type: ignore[no-untyped-def]
                                           permission: str) -> None:
    context = browser.new_context()
    context.add_cookies([{"name": "clarion_session", "value": matrix["tokens"][role],
                          "url": matrix["url"] + "/console/"}])
    page = context.new_page()
    response = page.goto(matrix["url"] + path)
    if allowed(role, permission):
        assert response.status == 200, (role, name, page.content()[:500])
        assert page.locator("h1").count() == 1
        assert page.locator("#forbidden").count() == 0
        assert page.locator(f"nav a[href='{path}']").count() == 1  # and it is in the menu
    else:
        assert response.status == 403, (role, name)
        assert page.locator("h1#forbidden").count() == 1
        assert page.locator(f"nav a[href='{path}']").count() == 0
    context.close()


@pytest.mark.parametrize("name,path,permission", PAGES, ids=[p[0] for p in PAGES])
def test_nobody_signed_in_is_sent_to_sign_in(matrix, browser, name: str, path: str,  # type: ignore[no-untyped-def]
                                             permission: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(matrix["url"] + path)
    assert "/console/login" in page.url and page.locator("#password").count() == 1
    context.close()


