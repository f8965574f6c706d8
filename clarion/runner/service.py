"""``clarion runner``: take broadcast requests off the runner queue and run each flow here.

Prefect and the flow are imported once, at start; each request then runs in a thread of its
own (``asyncio.run`` of the flow, as the CLI does), at most ``concurrency`` at a time (the
channel's prefetch).  A request is acknowledged when its flow has returned; the connection
goes round the broker's nodes when it is lost, and what was unacknowledged is delivered again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import threading
import time
from typing import Any

import pika
import pika.exceptions

from ..broker.amqp import connection_parameters, describe, redact
from ..broker.topology import replicated
from ..settings import Settings
from .protocol import DONE, FAILED, STARTED, RunRequest, queue_name, reply

log = logging.getLogger("clarion.runner")
RECONNECT_S = 1.0


class Runner:
    def __init__(self, settings: Settings, concurrency: int = 8):
        self.settings, self.concurrency = settings, concurrency
        self.queue = queue_name(settings)
        self.stopping = threading.Event()
        self.conn: pika.BlockingConnection | None = None

    def run(self) -> None:
        from ..flows.broadcast import broadcast  # the slow import, once
        self.broadcast = broadcast
        url = self.settings.broker_url.get_secret_value()
        while not self.stopping.is_set():
            try:
                self._consume(connection_parameters(url, self.settings.broker_ca_file))
            except pika.exceptions.AMQPError as exc:
                if self.stopping.is_set():
                    break
                log.warning("broker connection lost (%s); connecting again to %s",
                            describe(exc), redact(url))
                time.sleep(RECONNECT_S)

    def stop(self) -> None:
        self.stopping.set()
        if self.conn is not None and self.conn.is_open:
            self.conn.add_callback_threadsafe(self._close)

    def _close(self) -> None:
        if self.conn is not None and self.conn.is_open:
            self.conn.close()

    def _consume(self, params: list[pika.URLParameters]) -> None:
        self.conn = pika.BlockingConnection(params)
        ch = self.conn.channel()
        ch.queue_declare(self.queue, durable=True, arguments=replicated(self.settings))
        ch.basic_qos(prefetch_count=self.concurrency)
        ch.basic_consume(self.queue, functools.partial(self._on_request, self.conn))
        log.info("campaign runner ready (pid %d): consuming %s, %d flows at a time",
                 os.getpid(), self.queue, self.concurrency)
        try:
            ch.start_consuming()
        finally:
            self._close()

    def _on_request(self, conn: pika.BlockingConnection, ch: Any, method: Any, props: Any,
                    body: bytes) -> None:
        def answer(event: str, **fields: Any) -> None:
            if props.reply_to:
                ch.basic_publish("", props.reply_to, reply(event, **fields),
                                 pika.BasicProperties(correlation_id=props.correlation_id))
        try:
            run = RunRequest.decode(body)
        except ValueError as exc:
            log.error("refused a request that is not a run request: %s", exc)
            answer(FAILED, error=f"not a run request: {exc}")
            ch.basic_ack(method.delivery_tag)
            return
        answer(STARTED, pid=os.getpid())

        def finished(event: str, fields: dict[str, Any]) -> None:  # on the connection's thread
            if ch.is_open:
                answer(event, **fields)
                ch.basic_ack(method.delivery_tag)

        def target() -> None:
            event, fields = self._run_flow(run)
            if conn.is_open:
                conn.add_callback_threadsafe(functools.partial(finished, event, fields))

        threading.Thread(target=target, name=f"flow-{method.delivery_tag}", daemon=True).start()

    def _run_flow(self, run: RunRequest) -> tuple[str, dict[str, Any]]:
        from ..domain import CampaignRequest
        try:
            request = CampaignRequest.model_validate(run.request)
            result = asyncio.run(self.broadcast(request, wait=run.wait,
                                                timeout_s=run.timeout_s))
            return DONE, {"result": result}
        except BaseException as exc:  # noqa: BLE001 - the caller is told, the runner goes on
            log.warning("the broadcast flow failed: %s: %s", type(exc).__name__, exc)
            return FAILED, {"error": f"{type(exc).__name__}: {exc}"}


def serve(settings: Settings, concurrency: int = 8) -> None:
    runner = Runner(settings, concurrency)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop())
    runner.run()
