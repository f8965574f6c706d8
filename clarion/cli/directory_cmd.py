"""``clarion directory``: import the people Clarion can reach and count audiences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..directory import DirectoryError, ImportReport, count_audience, import_csv
from ..domain import Audience

app = typer.Typer(help="The directory of people Clarion can reach: import and count.",
                  no_args_is_help=True)


def _store():  # type: ignore[no-untyped-def]
    from clarion.settings import get_settings
    from clarion.store.db import Store

    return Store(get_settings().db_url)


def _lines_of(report: ImportReport) -> str:
    return ", ".join(str(line) for line, _ in report.errors)


def _audit_import(store, file: Path, report: ImportReport) -> None:  # type: ignore[no-untyped-def]
    from ..api.audit import record
    outcome = "refused rows" if report.errors else "ok"
    detail = f"loaded {report.loaded}, refused {len(report.errors)}"
    record(store, "directory.import", file.name, outcome,
           f"{detail} (lines {_lines_of(report)})" if report.errors else detail)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV with id,name,roles,department,grade,locale,"
                                              "email,phone,wecom_userid[,wechat_openid,…]")],
) -> None:
    """Insert or update recipients from a CSV file (UTF-8, one row a line); bad rows are
    listed by line and skipped, and the command then exits 1."""
    if not file.is_file():
        typer.echo(f"error: no such file: {file}", err=True)
        raise typer.Exit(1)
    store = _store()
    try:
        report = import_csv(store, file)
    except DirectoryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _audit_import(store, file, report)
    typer.echo(f"loaded {report.loaded} recipients")
    for line, message in report.errors:
        typer.echo(f"line {line}: {message}", err=True)
    if report.errors:
        typer.echo(f"refused {len(report.errors)} rows (lines {_lines_of(report)}); fix them and "
                   "import the file again", err=True)
        raise typer.Exit(1)


@app.command("sample")
def sample(
    file: Annotated[Path, typer.Argument(help="CSV file to write")],
    people: Annotated[int, typer.Option("--people", min=1, max=1_000_000,
                                        help="how many people")] = 2000,
    seed: Annotated[int, typer.Option(help="the same seed, the same campus")] = 1,
) -> None:
    """Write a sample campus (students by college and grade, teachers, staff) as a CSV
    that `clarion directory import` reads."""
    from ..demo.campus import write_campus_csv
    try:
        write_campus_csv(file, people, seed)
    except OSError as exc:
        typer.echo(f"error: cannot write {file}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {people} people to {file}; load them with "
               f"`clarion directory import {file}`")


@app.command("count")
def count(
    role: Annotated[list[str] | None, typer.Option("--role", help="repeatable")] = None,
    department: Annotated[list[str] | None, typer.Option("--department")] = None,
    grade: Annotated[list[str] | None, typer.Option("--grade")] = None,
) -> None:
    """Count the active recipients matching every given filter (everyone if none)."""
    filters = {"roles": role or [], "departments": department or [], "grades": grade or []}
    audience = Audience(**filters, everyone=not any(filters.values()))
    typer.echo(str(count_audience(_store(), audience)))
