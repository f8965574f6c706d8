"""``clarion apikey``: create, list, rotate and revoke the API keys of calling systems."""

from __future__ import annotations

import json
from typing import List

import typer

from ..security import DEFAULT_RATE, ApiSettings, create_key, list_keys, revoke_key, rotate_key
from .common import console, fail, settings_and_store

app = typer.Typer(help="API keys of the systems that call Clarion.", no_args_is_help=True)


def _split(values: List[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _audit(store, action: str, key_id: str,  # type: ignore[no-untyped-def]
           detail: str | None = None) -> None:
    from ..api.audit import record
    record(store, action, key_id, "ok", detail)


def _scopes(system: str, categories: list[str], channels: list[str], audiences: list[str],
            rate: float) -> str:
    return (f"system={system} categories={','.join(categories)} channels={','.join(channels)} "
            f"audiences={','.join(audiences)} rate={rate:g}/s")


@app.command("create")
def create(system: str = typer.Option(..., help="the calling system, e.g. library"),
           categories: List[str] = typer.Option(..., help="categories (comma-separated; * = any; "
                                                "'emergency' must be named)"),
           channels: List[str] = typer.Option(["*"], help="channels it may use"),
           audiences: List[str] = typer.Option(..., help="role:R, department:D, grade:G, "
                                               "everyone, addresses or *"),
           rate: float = typer.Option(DEFAULT_RATE, help="requests per second (burst: one "
                                      "second's worth); a repeated Idempotency-Key is free"),
           abilities: List[str] = typer.Option([], help="beyond sending: policy (categories "
                                               "and routing rules), preferences (people's)"),
           as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    if rate <= 0:
        fail("--rate must be above 0")
    _settings, store = settings_and_store()
    scopes = (_split(categories), _split(channels), _split(audiences))
    try:
        key_id, key = create_key(store, ApiSettings(), system, *scopes, rate, _split(abilities))
    except ValueError as exc:
        fail(f"--abilities: {exc}")
    _audit(store, "apikey.create", key_id, _scopes(system, *scopes, rate)
           + (f" abilities={','.join(_split(abilities))}" if abilities else ""))
    if as_json:
        print(json.dumps({"id": key_id, "system": system, "key": key}))
        return
    console.print(f"key {key_id} for {system} (shown once, store it now):")
    print(key)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Keys with their scopes (never the keys themselves)."""
    _settings, store = settings_and_store()
    keys = list_keys(store)
    if as_json:
        print(json.dumps(keys))
        return
    for k in keys:
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        console.print(f"{k['id']}  {k['system']:<16} {k['prefix']:<16} {state}  "
                      f"categories={','.join(k['categories'])} channels={','.join(k['channels'])} "
                      f"audiences={','.join(k['audiences'])} rate={k['rate']:g}/s",
                      highlight=False)


@app.command("rotate")
def rotate(key_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Give a key a new secret; the old one stops working."""
    _settings, store = settings_and_store()
    key = rotate_key(store, ApiSettings(), key_id)
    if key is None:
        fail(f"no active key {key_id}")
    _audit(store, "apikey.rotate", key_id)
    print(json.dumps({"id": key_id, "key": key}) if as_json else key)


@app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key (other API processes stop accepting it within the key cache time)."""
    _settings, store = settings_and_store()
    if not revoke_key(store, key_id):
        fail(f"no active key {key_id}")
    _audit(store, "apikey.revoke", key_id)
    console.print(f"key {key_id} revoked")
