"""The demo's stand-ins: the SMS gateway and SMTP capture servers, and the generated campus."""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from clarion.channels.base import OutboundMessage, Outcome
from clarion.channels.email import EmailChannel
from clarion.channels.sms_gateway import SmsGatewayChannel
from clarion.demo.campus import COLUMNS, generate_campus, write_campus_csv
from clarion.demo.capture import eml_name, read_jsonl, start_smtp_capture, start_sms_gateway

ROOT = Path(__file__).resolve().parent.parent


def sms(i: int, phone: str | None = None) -> OutboundMessage:
    return OutboundMessage(f"d{i:04d}", phone or f"+86138{i:08d}", {"text": f"notice {i}"})


def send(url: str, messages: list[OutboundMessage], token: str | None = None) -> list[Any]:
    async def go() -> list[Any]:
        channel = SmsGatewayChannel(url, token)
        try:
            return await channel.send(messages)
        finally:
            await channel.aclose()
    return asyncio.run(go())


def post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---- SMS gateway -------------------------------------------------------------------------------

def test_gateway_records_every_accepted_message(tmp_path: Path) -> None:
    out = tmp_path / "sms.jsonl"
    with start_sms_gateway(out_path=out, token="tok") as gateway:
        results = send(gateway.url, [sms(i) for i in range(50)], token="tok")
        records = gateway.records()
        with urllib.request.urlopen(gateway.base_url + "/stats", timeout=5) as response:
            stats = json.loads(response.read())
    assert [r.outcome for r in results] == [Outcome.SENT] * 50
    assert all(r.provider_message_id for r in results)
    assert {r["id"] for r in records} == {f"d{i:04d}" for i in range(50)}
    assert records[0].keys() == {"id", "to", "text", "t"}
    assert (stats["received"], stats["accepted"], stats["distinct_ids"]) == (50, 50, 50)
    assert len(read_jsonl(out)) == 50  # flushed on stop as well


def test_gateway_checks_the_token_and_the_request(tmp_path: Path) -> None:
    with start_sms_gateway(out_path=tmp_path / "o.jsonl", token="tok",
                           invalid_prefix="+86199") as gateway:
        no_token = post(gateway.url, {"to": "+8613800000001", "text": "hi", "id": "a"})
        bad_number = post(gateway.url, {"to": "12ab", "text": "hi", "id": "b"}, "tok")
        no_text = post(gateway.url, {"to": "+8613800000001", "id": "c"}, "tok")
        [prefixed] = send(gateway.url, [sms(1, "+8619900000001")], token="tok")
        [refused] = send(gateway.url, [sms(2)], token="wrong")
        stats = gateway.stats()
    assert no_token == (401, {"error": "invalid token"})
    assert bad_number == (400, {"error": "invalid number"})
    assert no_text[0] == 400
    assert (prefixed.outcome, prefixed.code, prefixed.reason) == (
        Outcome.FAILED, "400", "invalid number")
    assert refused.outcome is Outcome.STOPPED and refused.code == "401"  # the account, not her
    assert stats["accepted"] == 0 and stats["received"] == 5


def test_gateway_faults_are_deterministic_and_retries_get_through(tmp_path: Path) -> None:
    def rounds(run: str, seed: int
               ) -> tuple[list[Counter[Outcome]], dict[str, Any], list[float | None]]:
        pending = [sms(i) for i in range(200)]
        history: list[Counter[Outcome]] = []
        retry_after: list[float | None] = []
        with start_sms_gateway(out_path=tmp_path / f"{run}.jsonl",
                               fail_rate=0.2, rate_429=0.1, seed=seed) as gateway:
            while pending:
                results = send(gateway.url, pending)
                history.append(Counter(r.outcome for r in results))
                retry_after += [r.retry_after for r in results if r.code == "429"]
                again = {r.delivery_id for r in results if r.outcome is Outcome.RETRY}
                pending = [m for m in pending if m.delivery_id in again]
                assert len(history) < 20
            return history, gateway.stats(), retry_after

    first, stats, retry_after = rounds("first", seed=7)
    second, _, _ = rounds("second", seed=7)
    assert first == second and len(first) > 1
    assert 20 < first[0][Outcome.RETRY] < 100  # ~30% of 200
    assert stats["accepted"] == stats["distinct_ids"] == 200
    assert stats["received"] == sum(sum(c.values()) for c in first)
    assert retry_after and set(retry_after) == {1.0}


def test_gateway_cli_runs_until_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "clarion.demo.capture", "sms", "--port", "0", "--out", str(out)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        word, url = process.stdout.readline().split()  # type: ignore[union-attr]
        assert word == "ready" and url.endswith("/send")
        [result] = send(url, [sms(1)])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert result.outcome is Outcome.SENT
    assert [r["id"] for r in read_jsonl(out)] == ["d0001"]


# ---- SMTP capture ------------------------------------------------------------------------------

def test_smtp_cli_captures_mail_as_eml(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "clarion.demo.capture", "smtp", "--port", "0",
         "--dir", str(tmp_path), "--fail-rcpt", "gone@campus.example.edu"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        word, url = process.stdout.readline().split()  # type: ignore[union-attr]
        assert word == "ready" and url.startswith("smtp://127.0.0.1:")
        results = asyncio.run(_mail(url, ["a@campus.example.edu", "gone@campus.example.edu"]))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert [(r.outcome, r.code) for r in results] == [(Outcome.SENT, None),
                                                      (Outcome.FAILED, "550")]
    assert [p.name for p in tmp_path.glob("*.eml")] == ["m0@clarion.local.eml"]


def test_smtp_capture_keeps_duplicates_visible(tmp_path: Path) -> None:
    with start_smtp_capture(folder=tmp_path) as smtp:
        asyncio.run(_mail(smtp.url, ["a@campus.example.edu"]))
        asyncio.run(_mail(smtp.url, ["a@campus.example.edu"]))  # same delivery id again
        stats = smtp.stats()
    assert sorted(p.name for p in tmp_path.glob("*.eml")) == [
        "m0@clarion.local.2.eml", "m0@clarion.local.eml"]
    assert stats == {"received": 2, "connections": 2}


def test_eml_names_are_safe() -> None:
    assert eml_name("<d-1@campus.example.edu>", "x") == "d-1@campus.example.edu"
    assert "/" not in eml_name("<../../etc/passwd@evil>", "x")
    assert not eml_name("<../../etc/passwd@evil>", "x").startswith(".")
    assert eml_name(None, "fallback") == "fallback"


async def _mail(url: str, addresses: list[str]) -> list[Any]:
    channel = EmailChannel.from_options({"url": url}, None)
    messages = [OutboundMessage(f"m{i}", a, {"subject": "s", "text": "t"})
                for i, a in enumerate(addresses)]
    try:
        return await channel.send(messages)
    finally:
        await channel.aclose()


# ---- the campus --------------------------------------------------------------------------------

def test_campus_is_plausible_and_deterministic() -> None:
    people = generate_campus(2000, seed=3)
    assert people == generate_campus(2000, seed=3) != generate_campus(2000, seed=4)
    kinds = Counter(p["id"][0] for p in people)
    assert kinds == {"S": 1700, "T": 200, "E": 100}
    assert len({p["phone"] for p in people}) == len({p["id"] for p in people}) == 2000
    student = next(p for p in people if p["id"] == "S000001")
    assert student["roles"] == "student" and student["grade"] in {"2023", "2024", "2025", "2026"}
    assert student["department"].startswith(("College", "School"))
    assert student["email"] == "S000001@campus.example.edu"
    assert student["wecom_userid"] == "s000001"
    assert all(p["phone"].startswith("+86138") and len(p["phone"]) == 14 for p in people)
    assert {p["roles"] for p in people if p["id"][0] == "T"} == {"teacher", "teacher;advisor"}
    assert {p["locale"] for p in people} == {"zh-CN", "en"}
    assert "Library" in {p["department"] for p in people if p["id"][0] == "E"}


@pytest.mark.parametrize("n", [1, 7, 20])
def test_small_campuses_have_exactly_n_people(n: int) -> None:
    assert len(generate_campus(n)) == n


def test_campus_csv_has_the_agreed_columns(tmp_path: Path) -> None:
    path = write_campus_csv(tmp_path / "campus.csv", n=50, seed=1)
    with path.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == COLUMNS == (
        "id", "name", "roles", "department", "grade", "locale", "email", "phone",
        "wecom_userid")
    assert rows == [{k: str(v) for k, v in p.items()} for p in generate_campus(50, seed=1)]
