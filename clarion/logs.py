"""Logging: plain or JSON lines, with secrets scrubbed from every message."""

from __future__ import annotations

import json
import logging
import re

_SECRET_PATTERNS = [
    (re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),  # passwords in URLs
    (re.compile(r"(?i)(access_token|corpsecret|secret|token|key|sign|signature)=([^&\s]+)"),
     r"\1=***"),
    (re.compile(r"(?i)(authorization:\s*\w+\s+)\S+"), r"\1***"),
]


def scrub(text: str) -> str:
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "message": scrub(record.getMessage())}
        for key in ("campaign_id", "delivery_id", "channel", "code", "attempt"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry)


def setup_logging(level: str = "INFO", as_json: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else
                         ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)
