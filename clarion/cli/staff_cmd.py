"""``clarion staff``: the console's staff accounts (the first admin is made here)."""

from __future__ import annotations

import os
from typing import List

import typer

from ..errors import Rejected
from .common import console, fail, settings_and_store

app = typer.Typer(help="Staff accounts of the console (/console).", no_args_is_help=True)


def _split(values: List[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@app.command("create")
def create(email: str = typer.Option(..., help="sign-in address"),
           role: str = typer.Option(..., help="admin, operator, sender, approver or viewer"),
           name: str = typer.Option(None, help="shown in the console and the audit log"),
           categories: List[str] = typer.Option([], help="sender: categories it may send"),
           audiences: List[str] = typer.Option([], help="sender: role:R, department:D, "
                                               "grade:G, everyone or *"),
           channels: List[str] = typer.Option([], help="sender: channels (default: any)"),
           needs_approval: bool = typer.Option(False, help="every campaign it sends waits "
                                               "for an approver"),
           locale: str = typer.Option("zh-CN", help="zh-CN or en")) -> None:
    """Create an account; the password is read from CLARION_STAFF_PASSWORD or asked for."""
    from ..console.accounts import create_staff
    password = os.environ.get("CLARION_STAFF_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    _settings, store = settings_and_store()
    try:
        staff_id = create_staff(store, email, password, role, "cli", name=name,
                                categories=_split(categories), audiences=_split(audiences),
                                channels=_split(channels), needs_approval=needs_approval,
                                locale=locale)
    except Rejected as exc:
        fail(f"--{exc.field}: {exc.message}")
    console.print(f"staff {email} ({role}) created: {staff_id}; sign in at /console")


@app.command("list")
def list_staff() -> None:
    """Every staff account and its role."""
    from ..store.console import list_staff as rows
    _settings, store = settings_and_store()
    for r in rows(store):
        state = "disabled" if r["disabled_at"] else "active"
        console.print(f"{r['id']}  {r['email']}  {r['role']}  {state}", highlight=False)
