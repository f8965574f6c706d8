"""``clarion apikey``: the key is shown once, listings never show it, revoke stops it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clarion.cli.apikey_cmd import app
from clarion.security import ApiSettings, verify_key


def test_create_list_rotate_revoke(store, api_settings):
    run = CliRunner().invoke
    made = run(app, ["create", "--system", "library", "--categories", "library,general",
                     "--channels", "inbox", "--audiences", "role:reader", "--rate", "5", "--json"])
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    principal = verify_key(store, ApiSettings(), created["key"])
    assert principal.scopes.categories == ("library", "general") and principal.rate == 5
    listed = run(app, ["list", "--json"]).output
    assert created["key"] not in listed and created["id"] in listed
    rotated = json.loads(run(app, ["rotate", created["id"], "--json"]).output)
    assert verify_key(store, ApiSettings(), created["key"]) is None
    assert verify_key(store, ApiSettings(), rotated["key"]) is not None
    assert run(app, ["revoke", created["id"]]).exit_code == 0
    assert verify_key(store, ApiSettings(), rotated["key"]) is None
    assert run(app, ["revoke", created["id"]]).exit_code != 0
