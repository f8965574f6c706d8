"""``clarion api``: serve the producer API with uvicorn."""

from __future__ import annotations

from typing import Optional

import typer

# On SIGTERM, requests in progress get this long to finish; then open inbox streams (which a
# browser keeps open for ever) are closed, and their clients reconnect to another API process.
GRACE_S = 5


def api(host: str = typer.Option("127.0.0.1", help="listen address (loopback by default)"),
        port: int = typer.Option(8000),
        ssl_certfile: Optional[str] = typer.Option(None, help="serve HTTPS with this cert"),
        ssl_keyfile: Optional[str] = typer.Option(None),
        log_level: str = typer.Option("info")) -> None:
    """Serve the REST API (campaigns, messages, receipts, inbox, /metrics)."""
    import uvicorn

    from ..api import create_app
    from ..logs import setup_logging
    from .common import settings_and_store
    settings, _store = settings_and_store()
    setup_logging(log_level.upper(), settings.log_json)
    uvicorn.run(create_app(settings), host=host, port=port, ssl_certfile=ssl_certfile,
                ssl_keyfile=ssl_keyfile, log_level=log_level, access_log=False,
                log_config=None, timeout_graceful_shutdown=GRACE_S)
