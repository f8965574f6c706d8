"""prefect.yaml, deployed as documented: ``prefect work-pool create campus --type process``,
``prefect deploy --all`` with ``CLARION_HOME`` set, a ``prefect worker`` on the pool.

Prefect runs its own ``{{ name }}`` templating over prefect.yaml when it deploys: Jinja written
inline in a deployment's parameters would be emptied ("Dear ,  new books arrived").  Its
deployments name stored or shipped templates instead (``file:NAME``), and the parameters
read back from the server are exactly the file's.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml
from sqlalchemy import select

from clarion.store.models import InboxMessage

from .conftest import ROOT, wait_until

PREFECT = str(Path(sys.executable).with_name("prefect"))
PROJECT = yaml.safe_load((ROOT / "prefect.yaml").read_text())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_no_deployment_parameter_holds_a_placeholder_prefect_would_replace():
    for d in PROJECT["deployments"]:
        for text in _strings(d.get("parameters") or {}):
            assert "{{" not in text and "{%" not in text, (
                f"{d['name']}: {text!r} — Prefect's deploy-time templating empties inline "
                "Jinja; name a stored template or a file: template instead")


def test_every_template_prefect_yaml_names_is_shipped_and_compiles():
    from clarion import template_files
    named = [d["parameters"]["request"]["template"] for d in PROJECT["deployments"]
             if "template" in (d.get("parameters") or {}).get("request", {})]
    assert named, "the weekly digest names its template"
    for name in named:
        assert template_files.is_file_template(name), name
        assert template_files.read(name)["default"]["body"]


def _prefect(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([PREFECT, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def deployed(prefect_api) -> Iterator[dict[str, dict]]:
    """prefect.yaml deployed to the session's server as the README says; removed after."""
    env = {**os.environ, "CLARION_HOME": str(ROOT)}
    _prefect("work-pool", "create", "campus", "--type", "process", "--overwrite", env=env)
    _prefect("--no-prompt", "deploy", "--all", env=env)
    flows = {d["name"]: d["entrypoint"].rsplit(":", 1)[1].replace("_", "-")
             for d in PROJECT["deployments"]}
    read = {name: httpx.get(f"{prefect_api}/deployments/name/{flow}/{name}", timeout=10).json()
            for name, flow in flows.items()}
    yield read
    for d in read.values():
        httpx.delete(f"{prefect_api}/deployments/{d['id']}", timeout=10)
    httpx.delete(f"{prefect_api}/work_pools/campus", timeout=10)


def test_prefect_deploy_all_keeps_every_parameter_as_written(deployed):
    for d in PROJECT["deployments"]:
        served = deployed[d["name"]]
        assert served["work_pool_name"] == "campus"
        assert served["parameters"] == (d.get("parameters") or {}), d["name"]
        assert served["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {
            "directory": str(ROOT)}}]  # CLARION_HOME, resolved when deploying


def _worker(tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
    log = open(tmp_path / "prefect-worker.log", "w")
    return subprocess.Popen([PREFECT, "worker", "start", "--pool", "campus", "--type",
                             "process"], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)


@pytest.mark.sqlite_only  # orchestration, not the database: once is enough
def test_a_run_of_the_weekly_digest_on_a_process_worker_sends_the_text_intact(
        prefect_api, deployed, store, campus, smtp_capture, workers, tmp_path):
    campus(200)  # 20 teachers
    workers.start(channels="inbox,email")
    worker = _worker(tmp_path)
    try:
        run = httpx.post(f"{prefect_api}/deployments/{deployed['weekly-library-digest']['id']}"
                         "/create_flow_run", json={}, timeout=10).json()

        def state() -> str:
            return httpx.get(f"{prefect_api}/flow_runs/{run['id']}",
                             timeout=5).json()["state"]["type"]
        wait_until(lambda: state() in ("COMPLETED", "FAILED", "CRASHED"), timeout=180,
                   message="the weekly digest's flow run on the campus pool")
        assert state() == "COMPLETED", (tmp_path / "prefect-worker.log").read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)
    names = {r.id: r.name for r in _teachers(store)}
    with store.session() as s:
        inbox = s.execute(select(InboxMessage.recipient_id, InboxMessage.body)).all()
    assert {rid: body for rid, body in inbox} == {
        rid: f"Dear {name}, 12 new books arrived this week." for rid, name in names.items()}
    mails = [email.message_from_bytes(p.read_bytes()) for p in smtp_capture.folder.glob("*.eml")]
    assert len(mails) == len(names)
    for mail in mails:
        assert mail["Subject"] == "12 new books at the library this week"
        text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
        body = text.get_payload(decode=True).decode()
        assert any(body.startswith(f"Dear {name},\n\n12 new books arrived") for name in
                   names.values()), body


def _teachers(store) -> list:  # type: ignore[no-untyped-def]
    from clarion.store.models import Recipient
    with store.session() as s:
        return [r for r in s.scalars(select(Recipient)) if "teacher" in (r.roles or [])]


def test_clarion_serve_refuses_to_take_over_deployments_bound_to_the_pool(deployed, tmp_path):
    done = subprocess.run([sys.executable, "-m", "clarion.cli.main", "serve"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CLARION_HOME": str(ROOT)})
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join((done.stdout + done.stderr).split())
    assert "broadcast/broadcast (work pool 'campus')" in message
    assert "--take-over" in message and "Traceback" not in message
