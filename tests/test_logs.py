"""Structured logs: JSON lines with campaign and delivery ids, and never a secret."""

from __future__ import annotations

import json
import logging

from clarion.logs import JsonFormatter, ScrubbingFormatter, scrub


def _record(message: str, *args, **extra) -> logging.LogRecord:  # type: ignore[no-untyped-def]
    record = logging.LogRecord("clarion.worker", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_ids():
    line = JsonFormatter().format(_record("delivery %s: %s", "failed", "invalid number",
                                          delivery_id="d_1", campaign_id="c_1", channel="sms",
                                          code="400", attempt=1))
    entry = json.loads(line)
    assert entry["message"] == "delivery failed: invalid number"
    assert (entry["delivery_id"], entry["campaign_id"], entry["channel"], entry["code"]) == (
        "d_1", "c_1", "sms", "400")


def test_secrets_are_scrubbed_from_every_line():
    leaky = ("connect amqp://guest:hunter2@broker:5672/ then GET /gettoken?corpid=ww1"
             "&corpsecret=s3cr3t and Authorization: Bearer clk_abcdef and access_token=tok123")
    for formatter in (JsonFormatter(), ScrubbingFormatter("%(message)s")):
        out = formatter.format(_record(leaky))
        for secret in ("hunter2", "s3cr3t", "clk_abcdef", "tok123"):
            assert secret not in out, out
    assert "guest:***@broker" in scrub(leaky)


def test_a_worker_log_line_in_json_has_no_password(tmp_path, monkeypatch):
    from clarion.logs import setup_logging
    setup_logging("INFO", as_json=True)
    handler = logging.getLogger().handlers[0]
    stream = tmp_path / "log.jsonl"
    handler.setStream(open(stream, "w"))
    logging.getLogger("clarion.worker").warning("broker unavailable at amqp://u:pw123@h:5672/")
    handler.flush()
    entry = json.loads(stream.read_text().splitlines()[-1])
    assert "pw123" not in entry["message"] and entry["level"] == "WARNING"
