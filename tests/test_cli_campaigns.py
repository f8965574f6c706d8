"""The CLI for people: bad input refused with a named field, cancel, status and trace."""

from __future__ import annotations

import json
from pathlib import Path

import pika
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from clarion.cli.main import app
from clarion.store.models import Campaign, Delivery

from .scenarios import Background, campaign_id, sms_notice

runner = CliRunner()


def _send(tmp_path: Path, request: dict, *extra: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return runner.invoke(app, ["campaign", "send", "--request", str(path), *extra])


def _queued_messages(settings) -> int:  # type: ignore[no-untyped-def]
    from clarion.broker.names import Names
    names = Names(settings.broker_namespace)
    conn = pika.BlockingConnection(pika.URLParameters(settings.broker_url.get_secret_value()))
    try:
        ch = conn.channel()
        total = 0
        for q in names.queues("sms"):
            try:
                total += ch.queue_declare(q, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                ch = conn.channel()  # never declared: nothing queued
        return total
    finally:
        conn.close()


BAD = [
    ("unknown channel", {"channels": ["pigeon"]}, "channels"),
    ("empty audience", {"audience": {}}, "audience"),
    ("audience matching nobody", {"audience": {"roles": ["astronaut"]}}, "audience"),
    ("missing template variable",
     {"content": {"default": {"title": "Exam", "body": "Room {{ room }}"}}}, "room"),
    ("invalid priority", {"priority": "panic"}, "priority"),
    ("template and content missing", {"content": None}, "template"),
    ("unknown stored template", {"content": None, "template": "nope"}, "template"),
]


@pytest.mark.parametrize("label,change,named", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_are_refused_naming_the_problem_and_nothing_is_queued(
        label, change, named, settings, store, campus, tmp_path: Path):
    campus(50)
    request = {**sms_notice(f"bad-{label}"), **change}
    result = _send(tmp_path, request)
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output, result.output
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
    assert _queued_messages(settings) == 0


def test_unreadable_request_file_is_a_clear_error(settings, tmp_path: Path):
    missing = runner.invoke(app, ["campaign", "send", "--request", str(tmp_path / "no.json")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = runner.invoke(app, ["campaign", "send", "--request", str(broken)])
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_cancel_skips_what_is_not_sent_and_trace_shows_it(prefect_api, settings, store, campus,
                                                          sms_gateway, workers):
    campus(200)
    gateway = sms_gateway()
    request = sms_notice("to-cancel")
    Background(request, wait=False).join()  # queued, no worker running
    cid = campaign_id(request)
    result = runner.invoke(app, ["campaign", "cancel", cid])
    assert result.exit_code == 0 and "200 deliveries skipped" in result.output
    workers.start(channels="sms")
    status = runner.invoke(app, ["campaign", "status", cid, "--json"])
    info = json.loads(status.output)
    assert info["status"] == "cancelled"
    assert info["channels"]["sms"]["skipped"] == 200
    with store.session() as s:
        one = s.scalars(select(Delivery).where(Delivery.campaign_id == cid).limit(1)).one()
    trace = runner.invoke(app, ["trace", one.id, "--json"])
    events = json.loads(trace.output)[0]["events"]
    assert [e["status"] for e in events][-1] == "skipped"
    assert events[-1]["reason"] == "cancelled"
    by_recipient = runner.invoke(app, ["trace", "--recipient", one.recipient_id])
    assert by_recipient.exit_code == 0 and "skipped" in by_recipient.output
    import time
    time.sleep(1.0)  # give the worker time to (wrongly) send anything
    assert gateway.stats()["received"] == 0


def test_send_wait_json_prints_the_per_channel_result(prefect_api, settings, store, campus,
                                                      sms_gateway, workers, tmp_path: Path):
    campus(100)
    sms_gateway()
    workers.start(channels="sms,inbox")
    result = _send(tmp_path, sms_notice("cli-json", channels=["sms", "inbox"]), "--wait", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["status"] == "completed"
    assert set(out["channels"]) == {"sms", "inbox"}
    assert all(c["sent"] == 100 for c in out["channels"].values())


def test_recipients_without_an_address_are_skipped_with_the_reason(prefect_api, store, campus,
                                                                   sms_gateway, workers,
                                                                   tmp_path: Path):
    from clarion.directory import import_csv
    campus(30)
    nophone = tmp_path / "nophone.csv"
    nophone.write_text("id,name,roles,department,grade,locale,email,phone,wecom_userid\n"
                       "Z000001,No Phone,student,Physics,2024,en,z@campus.example.edu,,z\n")
    import_csv(store, nophone)
    sms_gateway()
    workers.start(channels="sms")
    from .conftest import run_broadcast
    result = run_broadcast(sms_notice("no-phone"))
    assert result["channels"]["sms"]["skipped"] == 1
    with store.session() as s:
        row = s.execute(select(Delivery).where(Delivery.recipient_id == "Z000001")).scalar_one()
    assert (row.status, row.code, row.reason) == ("skipped", "no_address", "no phone")
