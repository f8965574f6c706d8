"""``clarion category``, ``clarion rules`` and ``clarion preferences``: the site's delivery
policy and people's choices, from the command line (each change audited)."""

from __future__ import annotations

import getpass
import json
from typing import Any, List, Optional

import typer
from pydantic import ValidationError
from rich.table import Table

from ..errors import NotFound, Rejected
from ..planning import config
from ..planning.categories import CategorySettings
from ..planning.routing import MODES, RuleSpec
from ..store import policy as sql
from .common import console, describe_validation, fail, settings_and_store

category_app = typer.Typer(help="Categories and their policy: quiet hours, caps, "
                                "duplicates, digests, opt-out.", no_args_is_help=True)
rules_app = typer.Typer(help="Routing rules: which channels a category takes, and how.",
                        no_args_is_help=True)
preferences_app = typer.Typer(help="People's preferences (opt in / out per category).",
                              no_args_is_help=True)


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def _done(fn: Any, *args: Any) -> Any:
    """Run a change; a refusal is a clear message and exit 2, not a traceback."""
    try:
        return fn(*args)
    except Rejected as exc:
        fail(f"{exc.field}: {exc.message}")
    except NotFound as exc:
        fail(str(exc.args[0]), code=1)


def _print(data: Any, as_json: bool, table: Table) -> None:
    if as_json:
        print(json.dumps(data, default=str, ensure_ascii=False))
    else:
        console.print(table)


# --- categories -------------------------------------------------------------------------------

@category_app.command("list")
def category_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every category and its policy."""
    _settings, store = settings_and_store()
    cats = [c.model_dump() for c in config.list_categories(store)]
    table = Table(title="categories")
    for col in ("name", "critical", "opt-in", "quiet hours", "cap/day", "cap/week", "dedup s",
                "digest"):
        table.add_column(col)
    for c in cats:
        digest = c["digest"] and f"{c['digest']['every']} {c['digest'].get('weekday') or ''} " \
                                 f"{c['digest']['at']}"
        table.add_row(c["name"], "yes" if c["critical"] else "", "yes" if c["opt_in"] else "",
                      c["quiet_hours"] or "", str(c["cap_per_day"] or ""),
                      str(c["cap_per_week"] or ""), str(c["dedup_window_s"] or ""),
                      digest or "")
    _print(cats, as_json, table)


@category_app.command("set")
def category_set(
        name: str,
        description: Optional[str] = typer.Option(None),
        critical: Optional[bool] = typer.Option(None, "--critical/--not-critical",
                                                help="critical: nobody can opt out, no caps"),
        opt_in: Optional[bool] = typer.Option(None, "--opt-in/--opt-out",
                                              help="opt-in: only those who opted in get it"),
        quiet_hours: Optional[str] = typer.Option(None, help="HH:MM-HH:MM local, or 'none'"),
        cap_per_day: Optional[int] = typer.Option(None, help="0: no cap"),
        cap_per_week: Optional[int] = typer.Option(None, help="0: no cap"),
        dedup_window: Optional[int] = typer.Option(None, help="seconds; 0: no duplicate check"),
        digest: Optional[str] = typer.Option(None, help="'day HH:MM', 'week DAY HH:MM' or "
                                                        "'none'"),
        sms_footer: Optional[str] = typer.Option(None, help="SMS opt-out hint, or 'none'")
) -> None:
    """Create a category or change some of its settings (the others are kept)."""
    _settings, store = settings_and_store()
    current = {c.name: c.model_dump() for c in config.list_categories(store)}.get(name, {})
    given = {"description": _given(description), "critical": _given(critical),
             "opt_in": _given(opt_in),
             "quiet_hours": _none(quiet_hours), "cap_per_day": _zero(cap_per_day),
             "cap_per_week": _zero(cap_per_week), "dedup_window_s": _zero(dedup_window),
             "digest": _digest(digest), "sms_footer": _none(sms_footer)}
    values = {**current, **{k: v for k, v in given.items() if v is not _KEEP}, "name": name}
    try:
        category = CategorySettings.model_validate(values)
    except ValidationError as exc:
        fail(f"category {name}: {describe_validation(exc)}")
    new = _done(config.set_category, store, category, actor())
    console.print(f"category {name} {'created' if new else 'changed'}")


_KEEP = object()


def _given(v: Any) -> Any:
    return _KEEP if v is None else v


def _none(v: str | None) -> Any:
    return _KEEP if v is None else (None if v.lower() in ("none", "") else v)


def _zero(v: int | None) -> Any:
    return _KEEP if v is None else (v or None)


def _digest(v: str | None) -> Any:
    if v is None:
        return _KEEP
    parts = v.split()
    if not parts or parts[0].lower() == "none":
        return None
    if parts[0] == "week" and len(parts) == 3:
        return {"every": "week", "weekday": parts[1].lower(), "at": parts[2]}
    if parts[0] == "day" and len(parts) == 2:
        return {"every": "day", "at": parts[1]}
    fail(f"--digest: {v!r} is not 'day HH:MM', 'week DAY HH:MM' or 'none'")


# --- routing rules ----------------------------------------------------------------------------

@rules_app.command("list")
def rules_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every routing rule."""
    _settings, store = settings_and_store()
    rules = sql.rules(store)
    table = Table(title="routing rules")
    for col in ("category", "system", "mode", "channels", "changed by"):
        table.add_column(col)
    for r in rules:
        table.add_row(r["category"], r["source"], r["mode"], " → ".join(r["channels"]),
                      r["updated_by"])
    _print(rules, as_json, table)


@rules_app.command("show")
def rules_show(category: str, source: str = typer.Option("*", help="a system, or *")) -> None:
    _settings, store = settings_and_store()
    print(json.dumps(_done(config.show_rule, store, category, source), default=str))


@rules_app.command("set")
def rules_set(category: str,
              channels: List[str] = typer.Option(..., help="in order (comma-separated)"),
              mode: str = typer.Option("first", help=" | ".join(MODES)),
              source: str = typer.Option("*", help="only for this producing system")) -> None:
    """Create or replace the rule of a category (for one system, or for all)."""
    settings, store = settings_and_store()
    names = [c.strip() for value in channels for c in value.split(",") if c.strip()]
    try:
        rule = RuleSpec(channels=names, mode=mode, source=source)  # type: ignore[arg-type]
    except ValidationError as exc:
        fail(f"rule: {describe_validation(exc)}")
    new = _done(config.set_rule, store, settings, category, rule, actor())
    console.print(f"rule {category}/{source} {'created' if new else 'changed'}: "
                  f"{mode} {' → '.join(names)}")


@rules_app.command("delete")
def rules_delete(category: str, source: str = typer.Option("*")) -> None:
    _settings, store = settings_and_store()
    _done(config.delete_rule, store, category, source, actor())
    console.print(f"rule {category}/{source} deleted")


# --- preferences ------------------------------------------------------------------------------

@preferences_app.command("show")
def preferences_show(recipient: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One person's choices per category."""
    _settings, store = settings_and_store()
    items = _done(config.preferences_view, store, recipient)
    table = Table(title=f"preferences of {recipient}")
    for col in ("category", "default", "choices"):
        table.add_column(col)
    for i in items:
        choices = "cannot opt out" if i["critical"] else ", ".join(
            f"{ch}: {'in' if v else 'out'}" for ch, v in i["channels"].items())
        table.add_row(i["category"], i["default"], choices)
    _print(items, as_json, table)


@preferences_app.command("set")
def preferences_set(recipient: str, category: str = typer.Option(...),
                    channel: str = typer.Option("*", help="a channel, or * for all"),
                    opted_in: bool = typer.Option(..., "--in/--out")) -> None:
    """Opt someone in or out of a category (on a channel, or on all)."""
    settings, store = settings_and_store()
    try:
        change = config.PreferenceChange(preferences=[config.PreferenceSpec(
            category=category, channel=channel, opted_in=opted_in)])
    except ValidationError as exc:
        fail(f"preference: {describe_validation(exc)}")
    _done(config.set_preferences, store, settings, recipient, change, actor())
    console.print(f"{recipient}: {category} on {channel} {'in' if opted_in else 'out'}")
