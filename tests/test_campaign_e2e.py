"""A campaign end to end: Prefect flow → RabbitMQ → workers → SMS gateway, SMTP and inbox."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from clarion.store import deliveries
from clarion.store.models import Delivery, InboxMessage

from .conftest import run_broadcast

NOTICE = {
    "name": "Exam timetable", "category": "academic", "priority": "normal",
    "audience": {"roles": ["student"], "grades": ["2024"]},
    "channels": ["email", "sms", "inbox"],
    "content": {
        "default": {"title": "Exam timetable", "body": "Dear {{ recipient.name }}, exams start {{ day }}."},
        "email": {"subject": "Exams start {{ day }}", "text": "Dear {{ recipient.name }}, see you {{ day }}.",
                  "html": "<p>Dear {{ recipient.name }}, see you <b>{{ day }}</b>.</p>"},
    },
    "variables": {"day": "Monday"},
    "idempotency_key": "exam-2024",
}


def test_broadcast_reaches_every_channel_once(prefect_api, store, campus, sms_gateway,
                                              smtp_capture, workers):
    campus(400)
    gateway = sms_gateway()
    workers.start()
    result = run_broadcast(NOTICE)
    channels = result["channels"]
    assert result["status"] == "completed", result
    n = channels["sms"]["total"]
    assert n > 20
    for name in ("email", "sms", "inbox"):
        assert channels[name]["sent"] == n and channels[name]["open"] == 0, channels
    assert gateway.stats()["distinct_ids"] == n
    assert len(list(smtp_capture.folder.glob("*.eml"))) == n
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxMessage)) == n
        ids = s.execute(select(Delivery.id)).scalars().all()
    # every delivery has its trace: queued (created, handed to the broker) → sent, and the
    # creation is the delivery row's own time (no event row of its own)
    assert len(ids) == 3 * n
    traces = deliveries.events_for(store, ids)
    for delivery_id in ids:
        steps = traces[delivery_id]
        assert [e["status"] for e in steps] == ["queued", "sent"], steps
        assert steps[0]["at"] <= steps[1]["at"] and steps[1]["attempt"] == 1
        assert steps[0]["actor"].startswith("fanout:") and steps[1]["actor"].startswith("worker")

    # the same request again (same key): nothing is sent twice
    again = run_broadcast(NOTICE)
    assert again["campaign_id"] == result["campaign_id"]
    assert gateway.stats()["received"] == n
    assert len(list(smtp_capture.folder.glob("*.eml"))) == n


def test_the_flow_run_leaves_a_results_artifact_with_dashboard_links(prefect_api, store, campus,
                                                                      sms_gateway, workers,
                                                                      monkeypatch):
    import httpx

    from clarion.settings import get_settings
    monkeypatch.setenv("CLARION_GRAFANA_URL", "https://grafana.campus.example.edu")
    get_settings.cache_clear()
    campus(40)
    sms_gateway()
    workers.start(channels="sms,inbox")
    request = {**NOTICE, "channels": ["sms", "inbox"], "idempotency_key": "artifact"}
    result = run_broadcast(request)
    key = f"campaign-{result['campaign_id'].replace('_', '-')}"
    r = httpx.get(f"{prefect_api}/artifacts/{key}/latest", timeout=10)
    assert r.status_code == 200, r.text
    artifact = r.json()
    # the summary belongs to the flow run (not to a task run), as markdown
    assert artifact["type"] == "markdown" and artifact["task_run_id"] is None
    assert artifact["flow_run_id"] == result["flow_run_id"]
    text = artifact["data"]
    assert "https://grafana.campus.example.edu/d/clarion-overview" in text
    assert f"http://127.0.0.1:8000/console/campaigns/{result['campaign_id']}" in text
    assert "**completed**" in text
    for channel, counts in result["channels"].items():
        assert f"| {channel} | {counts['sent']} | 0 |" in text
    assert all(c["sent"] > 0 for c in result["channels"].values())
    # the same result as JSON, for a system that reads only Prefect's REST API
    r = httpx.get(f"{prefect_api}/artifacts/{key}-result/latest", timeout=10)
    assert r.status_code == 200 and r.json()["data"] == result, r.text


def test_fan_out_task_runs_say_which_recipients_they_cover(prefect_api, store, campus,
                                                          sms_gateway, workers, monkeypatch):
    import httpx

    from clarion.settings import get_settings
    monkeypatch.setenv("CLARION_SEGMENT_SIZE", "25")
    get_settings.cache_clear()
    campus(60)
    sms_gateway()
    workers.start(channels="sms")
    result = run_broadcast({**NOTICE, "channels": ["sms"], "idempotency_key": "task-names",
                            "audience": {"roles": ["student"]}})
    body = {"flow_runs": {"id": {"any_": [result["flow_run_id"]]}}}
    runs = httpx.post(f"{prefect_api}/task_runs/filter", json=body, timeout=10).json()
    names = sorted(r["name"] for r in runs if r["name"].startswith("sms,"))
    assert names == ["sms, recipients S000001–S000025", "sms, recipients S000026–S000050",
                     "sms, recipients S000051–S000051"], names
