"""The audit log keeps refused calls (401, 403, 429), inbox reads and the CLI's actions —
template save, directory import, campaign send and cancel, a new key with its scopes — and
never the key, the token or a directory value."""

from __future__ import annotations

import json
import time

from sqlalchemy import select
from typer.testing import CliRunner

from clarion.security import issue_inbox_token
from clarion.store.api_models import AuditEntry

from ..conftest import wait_until
from .conftest import auth

runner = CliRunner()
NOTE = {"category": "library", "channels": ["inbox"], "to": [{"id": "T000001"}],
        "content": {"default": {"title": "t", "body": "b"}}}


def entries(store, action: str | None = None) -> list:  # type: ignore[no-untyped-def]
    with store.session() as s:
        query = select(AuditEntry.actor, AuditEntry.action, AuditEntry.target,
                       AuditEntry.outcome, AuditEntry.detail).order_by(AuditEntry.id)
        rows = s.execute(query).all()
    return [r for r in rows if action is None or r.action == action]


def outcomes(store, action: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.outcome for r in entries(store, action)]


def test_refused_calls_are_audited(client, campus, make_key, store):
    campus(20)
    assert client.post("/v1/messages", json=NOTE).status_code == 401
    assert client.post("/v1/messages", json=NOTE, headers=auth("clk_wrong")).status_code == 401
    slow = make_key("slow", rate=0.01)
    assert client.post("/v1/messages", json=NOTE, headers=auth(slow)).status_code == 202
    assert client.post("/v1/messages", json=NOTE, headers=auth(slow)).status_code == 429
    narrow = make_key("narrow", categories=["sports"])
    assert client.post("/v1/messages", json=NOTE, headers=auth(narrow)).status_code == 403
    assert client.get("/v1/inbox", headers=auth("not-a-token")).status_code == 401
    wait_until(lambda: len(outcomes(store, "auth")) == 4, timeout=5, message="refusals noted")
    refusals = entries(store, "auth")
    assert [r.outcome for r in refusals] == ["refused:401"] * 2 + ["refused:429", "refused:401"]
    assert refusals[2].actor.endswith("(slow)") and refusals[0].target == "/v1/messages"
    assert outcomes(store, "message.create") == ["ok", "refused:403"]
    logged = " ".join(f"{r.actor} {r.target} {r.detail}" for r in entries(store))
    assert not any(key in logged for key in (slow, narrow, "clk_wrong"))


def test_inbox_reads_are_audited(client, campus, api_settings, store):
    campus(20)
    token = issue_inbox_token(api_settings, "T000001")
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/inbox", headers=h).status_code == 200
    assert client.post("/v1/inbox/99/read", headers=h).status_code == 404
    wait_until(lambda: len(entries(store)) == 2, timeout=5, message="reads noted")
    assert [(r.actor, r.action, r.outcome) for r in entries(store)] == [
        ("inbox:T000001", "inbox.list", "ok"), ("inbox:T000001", "inbox.read", "refused:404")]
    assert all(token not in (r.detail or "") for r in entries(store))


def cli(*args: str):  # type: ignore[no-untyped-def]
    from clarion.cli.main import app
    return runner.invoke(app, list(args))


def test_cli_actions_are_audited_with_the_scopes_of_a_new_key(settings, store, campus,
                                                               tmp_path):
    campus(20)
    created = cli("apikey", "create", "--system", "library", "--categories", "library,general",
                  "--channels", "inbox", "--audiences", "role:reader", "--rate", "5", "--json")
    assert created.exit_code == 0, created.output
    [key_entry] = entries(store, "apikey.create")
    assert key_entry.actor.startswith("cli")
    assert key_entry.detail == ("system=library categories=library,general channels=inbox "
                                "audiences=role:reader rate=5/s")
    assert json.loads(created.stdout)["key"] not in key_entry.detail

    (tmp_path / "t.json").write_text(json.dumps({"default": {"title": "T", "body": "B"}}))
    (tmp_path / "bad.json").write_text(json.dumps({"default": {"title": "{{", "body": "B"}}))
    assert cli("template", "save", "notice", str(tmp_path / "t.json")).exit_code == 0
    assert cli("template", "save", "broken", str(tmp_path / "bad.json")).exit_code != 0
    assert [(r.target, r.outcome) for r in entries(store, "template.save")] == [
        ("notice", "ok"), ("broken", "refused")]

    people = tmp_path / "people.csv"
    people.write_text("id,name\nA1,Ann\nbad id,Bob\n")
    assert cli("directory", "import", str(people)).exit_code == 1
    [imported] = entries(store, "directory.import")
    assert (imported.target, imported.outcome) == ("people.csv", "refused rows")
    assert imported.detail == "loaded 1, refused 1 (lines 3)"


def test_cli_campaign_refusal_and_cancel_are_audited(settings, store, campus, tmp_path):
    from clarion import campaigns
    from clarion.domain import CampaignRequest
    campus(20)
    request = {"name": "Exams", "category": "academic", "channels": ["inbox"],
               "audience": {"roles": ["student"]},
               "content": {"default": {"title": "Exams", "body": "Room {{ room }}"}}}
    (tmp_path / "r.json").write_text(json.dumps(request))
    assert cli("campaign", "send", "--request", str(tmp_path / "r.json")).exit_code != 0
    valid = CampaignRequest.model_validate({**request, "variables": {"room": "A1"}})
    campaign_id, _ = campaigns.register(store, valid,
                                        campaigns.prepare(store, settings, valid).route)
    assert cli("campaign", "cancel", campaign_id).exit_code == 0
    assert cli("campaign", "cancel", "c_nosuch").exit_code != 0
    assert [(r.action, r.target, r.outcome) for r in entries(store)
            if r.action.startswith("campaign")] == [
        ("campaign.create", None, "refused"), ("campaign.cancel", campaign_id, "ok"),
        ("campaign.cancel", "c_nosuch", "refused")]


def test_cli_campaign_send_is_audited(prefect_api, settings, store, campus, tmp_path):
    campus(20)
    request = {"name": "Welcome", "category": "general", "channels": ["inbox"],
               "audience": {"roles": ["student"]}, "idempotency_key": f"w-{time.time_ns()}",
               "content": {"default": {"title": "Welcome", "body": "Hi {{ recipient.name }}"}}}
    (tmp_path / "r.json").write_text(json.dumps(request))
    sent = cli("campaign", "send", "--request", str(tmp_path / "r.json"), "--json")
    assert sent.exit_code == 0, sent.output
    campaign_id = json.loads(sent.stdout.strip().splitlines()[-1])["campaign_id"]
    assert [(r.target, r.outcome, r.detail) for r in entries(store, "campaign.create")] == [
        (campaign_id, "ok", "Welcome")]
