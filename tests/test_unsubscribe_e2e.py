"""One-click unsubscribe end to end, as a mailbox provider does it: a real campaign's email
is captured (aiosmtpd), its ``List-Unsubscribe`` URL is POSTed over HTTPS with
``List-Unsubscribe=One-Click`` (RFC 8058) to the API, and the next campaign of that category
skips that person's email (``opted_out``) while their SMS of it still goes."""

from __future__ import annotations

import email
import re
from datetime import datetime, timedelta, timezone
from email import policy as email_policy

import httpx

from clarion.domain import delivery_id_for
from clarion.planning.unsubscribe import Links
from clarion.store import deliveries

from .conftest import run_broadcast
from .site import load_people, person
from .test_tls import https_api, pki  # noqa: F401 - fixtures: the API over HTTPS, its CA


def _notice(key: str, body: str) -> dict:
    return {"name": f"Club fair {key}", "category": "campus", "priority": "normal",
            "audience": {"roles": ["student"]}, "channels": ["email", "sms"],
            "content": {"default": {"title": "Club fair", "body": body}},
            "idempotency_key": key}


def _eml(folder, delivery_id: str) -> email.message.EmailMessage:  # type: ignore[no-untyped-def]
    path = next(folder.glob(f"{delivery_id}@*.eml"))
    return email.message_from_bytes(path.read_bytes(), policy=email_policy.default)


def test_one_click_unsubscribe_stops_that_category_on_email_only(
        prefect_api, https_api, pki, store, tmp_path, smtp_capture, sms_gateway, workers,  # noqa: F811
        monkeypatch):
    from clarion.settings import get_settings
    monkeypatch.setenv("CLARION_PUBLIC_URL", f"https://{https_api}")
    get_settings.cache_clear()
    load_people(store, tmp_path / "people.csv", [person(f"S{i:03d}") for i in range(1, 4)])
    gateway = sms_gateway()
    workers.start()
    first = run_broadcast(_notice("fair-1", "The club fair opens at 10:00."))
    message = _eml(smtp_capture.folder, delivery_id_for(first["campaign_id"], "S002", "email"))
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https://[^>]+)>", message["List-Unsubscribe"])[1]
    assert url in message.get_body(("plain",)).get_content()  # and in the body, for people
    verify = str(pki.ca)

    page = httpx.get(url, verify=verify)  # a scanner following the link changes nothing
    assert page.status_code == 200 and "<form method=\"post\">" in page.text
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert httpx.post(tampered, data={"List-Unsubscribe": "One-Click"},
                      verify=verify).status_code == 400
    old = Links(get_settings(), datetime.now(timezone.utc) - timedelta(days=61))
    expired = old.url("S002", "campus", "email").replace("http://127.0.0.1:8000",
                                                         f"https://{https_api}")
    assert httpx.post(expired, data={"List-Unsubscribe": "One-Click"},
                      verify=verify).status_code == 410
    assert httpx.post(url, data={"List-Unsubscribe": "One-Click"}, verify=verify,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}
                      ).status_code == 200

    second = run_broadcast(_notice("fair-2", "The club fair moves to the gym."))
    cid = second["campaign_id"]
    skipped, steps = deliveries.trace(store, delivery_id_for(cid, "S002", "email"))
    assert (skipped["status"], skipped["code"]) == ("skipped", "opted_out")
    assert steps[0]["reason"] == "opted out of campus on email"
    assert deliveries.trace(store, delivery_id_for(cid, "S002", "sms"))[0]["status"] == "sent"
    for other in ("S001", "S003"):
        assert deliveries.trace(store, delivery_id_for(cid, other, "email"))[0]["status"] \
            == "sent"
    assert second["channels"]["email"] == {"sent": 2, "failed": 0, "skipped": 1,
                                           "deferred": 0, "open": 0, "total": 3}
    assert second["decisions"]["email"] == {"skipped": {"opted_out": 1}}
    assert len([r for r in gateway.records() if r["to"] == person("S002")["phone"]]) == 2
