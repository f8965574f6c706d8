"""The caller's side: hand a checked request to a campaign runner and follow its replies.

``hand_over`` gives the request to a runner if any consumes the queue (``None``: run the
flow here).  The returned ``HandedRun`` is polled by the CLI between its database reads, the same way as
the thread of a flow run in the CLI's own process (``LocalRun``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any, Callable

import pika
import pika.exceptions

from ..broker.amqp import connection_parameters
from ..settings import Settings
from .protocol import DONE, FAILED, STARTED, RunRequest, queue_name

PICKUP_TIMEOUT_S = 10.0  # a runner that has not taken the request by then is not coming
LOOK_EVERY_S = 5.0  # while waiting for the flow: is any runner still consuming?


class RunnerGone(Exception):
    """The runner that had the request stopped with no other to take it, or the link to
    the broker was lost, before the flow ended."""


class LocalRun:
    """A flow run in a thread of this process."""

    def __init__(self, target: Callable[[], Any]):
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, args=(target,), name="broadcast-flow",
                                        daemon=True)
        self._thread.start()

    def _run(self, target: Callable[[], Any]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported to the user by the caller
            self.error = f"{type(exc).__name__}: {exc}"

    def alive(self, wait_s: float = 0.0) -> bool:
        self._thread.join(wait_s)
        return self._thread.is_alive()

    def join(self) -> None:
        self._thread.join()


class HandedRun:
    """A flow run handed to a campaign runner; its replies arrive on our exclusive queue."""

    def __init__(self, conn: pika.BlockingConnection, ch: Any, reply_queue: str,
                 correlation_id: str, runner_queue: str):
        self.error: str | None = None
        self.runner_pid: int | None = None
        self._conn, self._ch, self._done = conn, ch, False
        self._correlation_id, self._runner_queue = correlation_id, runner_queue
        self._looked = time.monotonic()
        ch.basic_consume(reply_queue, self._on_reply, auto_ack=True, exclusive=True)

    def _on_reply(self, _ch: Any, _method: Any, props: Any, body: bytes) -> None:
        if props.correlation_id != self._correlation_id:
            return
        message = json.loads(body)
        if message["event"] == STARTED:
            self.runner_pid = message.get("pid")
        elif message["event"] in (DONE, FAILED):
            self.error = message.get("error")
            self._done = True
            self._conn.close()

    def alive(self, wait_s: float = 0.0) -> bool:
        """Take what the runner said (waiting up to ``wait_s``); False once the flow ended.
        Raises RunnerGone when the link to the broker was lost."""
        if self._done:
            return False
        try:
            self._conn.process_data_events(time_limit=wait_s)
            if not self._done and time.monotonic() - self._looked > LOOK_EVERY_S:
                self._looked = time.monotonic()
                runners = self._ch.queue_declare(self._runner_queue, passive=True)
                if runners.method.consumer_count == 0:
                    raise RunnerGone("the campaign runner stopped and no other runner "
                                     "consumes its queue: the flow goes on when one starts "
                                     "again (`clarion up`, `clarion runner`)")
        except pika.exceptions.AMQPError as exc:
            raise RunnerGone(f"the connection to the broker was lost ({exc!r}); the "
                             "campaign runner goes on with the flow") from exc
        return not self._done

    def started(self, timeout: float = PICKUP_TIMEOUT_S) -> bool:
        """Wait until a runner took the request (True) or the pickup time ran out (False)."""
        deadline = time.monotonic() + timeout
        while self.runner_pid is None and not self._done and time.monotonic() < deadline:
            self.alive(wait_s=0.05)
        return self.runner_pid is not None or self._done

    def join(self) -> None:
        while self.alive(wait_s=0.5):
            pass


def hand_over(settings: Settings, request: dict[str, Any], wait: bool,
              timeout_s: float) -> HandedRun | None:
    """Give the request to a running campaign runner; None when none consumes the queue or
    the broker cannot be reached (the caller then runs the flow itself)."""
    url = settings.broker_url.get_secret_value()
    try:
        conn = pika.BlockingConnection(connection_parameters(url, settings.broker_ca_file))
    except pika.exceptions.AMQPError:
        return None
    try:
        ch = conn.channel()
        try:
            declared = ch.queue_declare(queue_name(settings), passive=True)
        except pika.exceptions.ChannelClosedByBroker:  # 404: no runner ever declared it
            conn.close()
            return None
        if declared.method.consumer_count == 0:
            conn.close()
            return None
        reply_queue = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        correlation_id = uuid.uuid4().hex
        run = HandedRun(conn, ch, reply_queue, correlation_id, queue_name(settings))
        ch.confirm_delivery()
        ch.basic_publish("", queue_name(settings),
                         RunRequest(request, wait, timeout_s).encode(),
                         pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                              reply_to=reply_queue,
                                              correlation_id=correlation_id),
                         mandatory=True)
        return run
    except pika.exceptions.AMQPError:
        if conn.is_open:
            conn.close()
        return None
