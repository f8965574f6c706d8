"""The campaign runner (``clarion runner``): ``campaign send`` hands the checked request to
this warm process, which runs the broadcast flow on the Prefect server; a request it cannot
read is answered, not fatal; without a runner the CLI runs the flow itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pika

from clarion import campaigns
from clarion.runner.protocol import queue_name

from .conftest import ROOT, wait_until
from .scenarios import sms_notice


def _clarion(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clarion.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "COLUMNS": "200"})


def _start_runner(tmp_path):  # type: ignore[no-untyped-def]
    log = tmp_path / "runner.log"
    proc = subprocess.Popen([sys.executable, "-m", "clarion.cli.main", "runner"], cwd=ROOT,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_until(lambda: "campaign runner ready" in log.read_text() or proc.poll() is not None,
               timeout=120, message="the runner to start")
    assert proc.poll() is None, log.read_text()
    return proc, log


def test_send_hands_the_flow_to_the_runner(prefect_api, clarion_env, settings, store,
                                           sms_gateway, campus, workers, tmp_path):
    gateway, n = sms_gateway(), campus(30)
    workers.start("sms")
    runner, log = _start_runner(tmp_path)
    try:
        request = tmp_path / "notice.json"
        request.write_text(json.dumps(sms_notice("runner")))
        sent = _clarion("campaign", "send", "--request", str(request), "--wait", "--json")
        assert sent.returncode == 0, sent.stderr
        assert f"the campaign runner (pid {runner.pid}) runs the flow" in sent.stderr
        result = json.loads(sent.stdout.strip().splitlines()[-1])
        assert result["status"] == "completed"
        assert result["channels"]["sms"]["sent"] == n == gateway.stats()["received"]
        flow_run_id = campaigns.get(store, result["campaign_id"])["flow_run_id"]
        run = httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}", timeout=10).json()
        assert run["state_type"] == "COMPLETED"  # a flow run on the server, in its history

        # a request that is not one is answered and dropped; the runner goes on
        conn = pika.BlockingConnection(pika.URLParameters(clarion_env["CLARION_BROKER_URL"]))
        ch = conn.channel()
        reply_to = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_publish("", queue_name(settings), b"{not json",
                         pika.BasicProperties(reply_to=reply_to, correlation_id="x"))
        answer = None
        deadline = time.time() + 30
        while answer is None and time.time() < deadline:
            _m, _p, answer = ch.basic_get(reply_to, auto_ack=True)
            time.sleep(0.1)
        conn.close()
        assert answer is not None and json.loads(answer)["event"] == "failed"
        assert "not a run request: not JSON" in json.loads(answer)["error"]
        assert runner.poll() is None

        # two at once: the runner runs their flows side by side, each in a thread of its own
        calls = []
        for k in range(2):
            path = tmp_path / f"again-{k}.json"
            path.write_text(json.dumps(sms_notice(f"again-{k}-{uuid.uuid4().hex[:6]}")))
            calls.append(subprocess.Popen(
                [sys.executable, "-m", "clarion.cli.main", "campaign", "send", "--request",
                 str(path), "--wait", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}))
        for call in calls:
            out, err = call.communicate(timeout=180)
            assert call.returncode == 0 and "campaign runner" in err, err
            done = json.loads(out.strip().splitlines()[-1])
            assert done["status"] == "completed" and done["channels"]["sms"]["sent"] == n
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    assert runner.returncode == 0, log.read_text()[-2000:]  # SIGTERM: a clean stop

    # no runner consumes the queue now: the CLI runs the flow itself, and says nothing of one
    last = tmp_path / "last.json"
    last.write_text(json.dumps(sms_notice("no-runner")))
    here = _clarion("campaign", "send", "--request", str(last), "--wait", "--json")
    assert here.returncode == 0, here.stderr
    assert "campaign runner" not in here.stderr
    assert json.loads(here.stdout.strip().splitlines()[-1])["status"] == "completed"


def test_the_cli_says_so_when_the_runner_dies_with_its_flow(prefect_api, clarion_env, store,
                                                           campus, tmp_path):
    campus(10)  # no worker: the flow waits for deliveries that nobody sends
    runner, _log = _start_runner(tmp_path)
    request = tmp_path / "notice.json"
    request.write_text(json.dumps(sms_notice("dies")))
    cli = subprocess.Popen([sys.executable, "-m", "clarion.cli.main", "campaign", "send",
                            "--request", str(request), "--wait", "--json"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "COLUMNS": "200"})
    try:
        wait_until(lambda: _has_campaign(store), timeout=60, message="the campaign")
    finally:
        runner.kill()  # SIGKILL: no goodbye to the CLI
        runner.wait(timeout=10)
    _out, err = cli.communicate(timeout=60)
    said = " ".join(err.split())
    assert cli.returncode == 1, said
    assert "the campaign runner stopped and no other runner consumes its queue" in said
    assert "clarion campaign status" in said  # where to follow the campaign from here



def _has_campaign(store) -> bool:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from clarion.store.models import Campaign
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(Campaign)).scalar() > 0


def test_a_request_no_runner_takes_in_time_is_run_by_the_cli(prefect_api, clarion_env, settings,
                                                             sms_gateway, campus, workers,
                                                             tmp_path):
    gateway, n = sms_gateway(), campus(10)
    workers.start("sms")
    conn = pika.BlockingConnection(pika.URLParameters(clarion_env["CLARION_BROKER_URL"]))
    ch = conn.channel()  # a "runner" that takes requests and never answers them
    ch.queue_declare(queue_name(settings), durable=True)
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume(queue_name(settings), lambda *_: None)
    stuck = threading.Thread(target=lambda: conn.process_data_events(time_limit=60), daemon=True)
    request = tmp_path / "notice.json"
    request.write_text(json.dumps(sms_notice("stuck")))
    try:
        stuck.start()
        sent = _clarion("campaign", "send", "--request", str(request), "--wait", "--json")
    finally:
        conn.add_callback_threadsafe(conn.close)
        stuck.join(10)
    said = " ".join(sent.stderr.split())
    assert sent.returncode == 0, said
    assert "no campaign runner took the request in 10 s: running the flow in this process" in said
    result = json.loads(sent.stdout.strip().splitlines()[-1])
    assert result["channels"]["sms"]["sent"] == n == gateway.stats()["received"]
