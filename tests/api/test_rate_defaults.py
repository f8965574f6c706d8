"""A key's rate: the default fits a producing system's burst, and a repeated Idempotency-Key
(which replays the first answer and creates nothing) never counts against it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clarion.api.ratelimit import RateLimiter
from clarion.cli.apikey_cmd import app as apikey_app
from clarion.security import DEFAULT_RATE, ApiSettings, verify_key

from .conftest import EVERYTHING, auth
from .test_idempotency import BODY, counts


def burst(url: str, headers_of, n: int = 20) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    def post(i: int) -> httpx.Response:
        return httpx.post(f"{url}/v1/messages", json=BODY, headers=headers_of(i), timeout=30)
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(post, range(n)))


def test_twenty_concurrent_repeats_of_one_key_pass_a_slow_key(live_api, campus, make_key,
                                                               store):
    campus(40)
    key = make_key("slow-producer", rate=2)  # a bucket of two: 18 of 20 would be 429 if counted
    headers = {**auth(key), "Idempotency-Key": "overdue-burst"}
    started = time.monotonic()
    answers = burst(live_api.url, lambda _i: headers)
    assert [r.status_code for r in answers] == [202] * 20, [r.text for r in answers]
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 19
    assert counts(store) == (1, 20)
    # the burst spent one token of two: one new request passes, and the one after is refused
    # unless half a second went by since the burst began (the bucket refills at 2/s: a slow,
    # busy machine can take that long over 22 requests)
    fresh = httpx.post(f"{live_api.url}/v1/messages", json=BODY, headers=auth(key), timeout=30)
    sent_again = time.monotonic()
    again = httpx.post(f"{live_api.url}/v1/messages", json=BODY, headers=auth(key), timeout=30)
    assert fresh.status_code == 202
    if sent_again - started < 0.5:
        assert again.status_code == 429, again.text


def test_a_later_replay_in_another_process_costs_nothing(app, settings, api_settings, campus,
                                                         make_key):
    campus(20)
    from clarion.api import create_app
    key = make_key("one-a-second", rate=1)
    keyed = {**auth(key), "Idempotency-Key": "grades-posted"}
    with TestClient(app) as first:
        assert first.post("/v1/messages", json=BODY, headers=keyed).status_code == 202
    with TestClient(create_app(settings, api_settings)) as second:  # a fresh limiter
        replay = second.post("/v1/messages", json=BODY, headers=keyed)
        new = second.post("/v1/messages", json=BODY, headers=auth(key))
        refused = second.post("/v1/messages", json=BODY, headers=auth(key))
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    assert new.status_code == 202 and "Idempotent-Replayed" not in new.headers
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"


def test_the_default_rate_takes_a_burst_of_twenty_distinct_posts(live_api, campus, store,
                                                                 api_settings):
    campus(40)
    made = CliRunner().invoke(apikey_app, [
        "create", "--system", "registrar", "--categories", ",".join(EVERYTHING["categories"]),
        "--audiences", "*", "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.output)["key"]
    assert verify_key(store, ApiSettings(), key).rate == DEFAULT_RATE == 100
    answers = burst(live_api.url, lambda i: {**auth(key), "Idempotency-Key": f"grade-{i}"})
    assert [r.status_code for r in answers] == [202] * 20, [r.text for r in answers]
    assert counts(store) == (20, 400)


def test_tickets_are_charged_once_and_forgotten_after_their_time():
    limiter = RateLimiter()
    assert limiter.take("k", 1, now=0.0, ticket="a") is None
    assert limiter.take("k", 1, now=0.1, ticket="a") is None  # a repeat: free
    assert limiter.take("k", 1, now=0.2, ticket="b") is not None  # a new one: the bucket is empty
    assert limiter.take("other-key", 1, now=0.2, ticket="a") is None  # tickets are per key
    assert limiter.take("k", 1, now=10_000.0, ticket="a") is None  # forgotten, charged again
    assert limiter.take("k", 1, now=10_000.1, ticket="a") is None
    assert limiter.take("k", 1, now=10_000.2) is not None
