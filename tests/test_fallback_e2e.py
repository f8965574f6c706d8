"""Fallback routing end to end: WeCom first, SMS when WeCom fails for good or the person has
no WeCom id — never both when WeCom succeeded.  The trace says which channel was tried and
why the next was taken."""

from __future__ import annotations

import json

from clarion.domain import delivery_id_for
from clarion.store import deliveries

from .conftest import run_broadcast, wait_until
from .providers.fake_wecom_app import FakeWecomApp
from .providers.test_wecom_app import AGENT, CORP, SECRET
from .scenarios import all_final
from .site import load_people, person, set_rule

NOTICE = {"name": "Lab safety briefing", "category": "campus", "priority": "normal",
          "audience": {"roles": ["student"]}, "channels": "auto",
          "content": {"default": {"title": "Briefing",
                                  "body": "Lab safety briefing at 14:00 in A-101."}},
          "idempotency_key": "fallback-wecom-sms"}


def test_wecom_failures_and_missing_ids_fall_back_to_sms(prefect_api, store, settings,
                                                         tmp_path, sms_gateway, workers,
                                                         monkeypatch):
    from clarion.settings import get_settings
    good, bad, none = ["A001", "A002", "A003"], ["B001", "B002"], ["C001"]
    people = ([person(p) for p in good + bad] + [person(p, wecom_userid="") for p in none])
    load_people(store, tmp_path / "people.csv", people)
    gateway = sms_gateway()
    with FakeWecomApp(CORP, SECRET, AGENT, members={p.lower() for p in good}) as wecom:
        monkeypatch.setenv("CLARION_CHANNELS", json.dumps({"wecom": {
            "type": "wecom_app", "corp_id": CORP, "secret": SECRET, "agent_id": AGENT,
            "base_url": wecom.base_url}}))
        get_settings.cache_clear()
        set_rule(store, get_settings(), "campus", ["wecom", "sms"], "fallback")
        workers.start()
        cid = run_broadcast(NOTICE, wait=False)["campaign_id"]
        wait_until(lambda: all_final(store, cid) and gateway.stats()["received"] >= 3,
                   timeout=90, message="WeCom tried, SMS sent where it had to be")
        assert sorted(u for u, _ in wecom.delivered) == ["a001", "a002", "a003"]
    texts = {r["to"] for r in gateway.records()}
    assert texts == {person(p)["phone"] for p in bad + none}  # nobody got both
    for p in good:
        row, _ = deliveries.trace(store, delivery_id_for(cid, p, "wecom"))
        assert row["status"] == "sent" and not row["fallback_of"]
        assert deliveries.trace(store, delivery_id_for(cid, p, "sms"))[0] is None
    for p in bad:
        first, steps = deliveries.trace(store, delivery_id_for(cid, p, "wecom"))
        sms, sms_steps = deliveries.trace(store, delivery_id_for(cid, p, "sms"))
        assert first["status"] == "failed" and first["code"] == "81013"
        assert steps[-1]["reason"] == f"fallback to sms: {sms['id']}", steps
        assert sms["status"] == "sent" and sms["fallback_of"] == first["id"]
        assert sms_steps[0]["reason"].startswith(f"fallback from wecom ({first['id']}): 81013")
    row, steps = deliveries.trace(store, delivery_id_for(cid, "C001", "sms"))
    assert row["status"] == "sent"
    assert steps[0]["reason"] == ("route wecom → sms (mode fallback): wecom: no wecom_userid; "
                                  "sent on sms")
    assert deliveries.trace(store, delivery_id_for(cid, "C001", "wecom"))[0] is None
