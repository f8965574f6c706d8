"""Helpers shared by the CLI commands: settings, store, clean errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from ..settings import Settings, get_settings
from ..store.db import Store, store_for

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_and_store() -> tuple[Settings, Store]:
    try:
        settings = get_settings()
    except ValidationError as exc:
        fail(f"bad settings: {describe_validation(exc)}")
    return settings, store_for(settings.db_url)


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"no such file: {path}")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
