"""The directory: the people Clarion can reach, imported from CSV and selected by audience.

Imports are bulk upserts, a chunk per transaction, on SQLite and PostgreSQL alike; columns the
file does not carry are left as they are on people already known.  Each line of the file is one
row (no directory value spans lines), read on its own: a row in another encoding or with a quote
left open is refused with its line number, and never swallows the rows after it.  Audiences are read in keyset
pages ordered by id, so no caller ever holds a whole audience in memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (ColumnElement, Connection, Select, and_, delete, exists, false, func,
                        insert, or_, select)

from .domain import Audience
from .planning.quiet_hours import zone
from .store.db import Store
from .store.dialects import in_json_list
from .store.models import Recipient, RecipientRole, utcnow

REQUIRED_COLUMNS = ("id", "name")
CONTACT_COLUMNS = ("department", "grade", "locale", "email", "phone", "wecom_userid",
                   "wechat_openid", "timezone")
COLUMNS = (*REQUIRED_COLUMNS, *CONTACT_COLUMNS)
KNOWN = frozenset({*COLUMNS, "roles", "active"})  # other columns go to Recipient.attributes
IMPORT_CHUNK = 1000

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{6,20}$")
_PHONE_SEPARATORS = str.maketrans("", "", " -()")
_TRUE, _FALSE = {"1", "true", "yes", "y"}, {"0", "false", "no", "n"}


class DirectoryError(Exception):
    """The import file cannot be read at all."""


@dataclass
class ImportReport:
    loaded: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (CSV line, message)


class RowError(ValueError):
    """One CSV row is invalid; the message names the column."""


# --- reading and checking rows ----------------------------------------------------------------

_MAX_LENGTH = {c: getattr(Recipient.__table__.c[c].type, "length", None) for c in COLUMNS}


def _checked(column: str, value: str | None) -> str | None:
    limit = _MAX_LENGTH[column]
    if value is not None and limit is not None and len(value) > limit:
        raise RowError(f"{column}: longer than {limit} characters")
    return value


def _id(value: str | None) -> str:
    if not value:
        raise RowError("id: required")
    if not _ID.match(value):
        raise RowError(f"id: {value!r} is not 1-64 letters, digits, '_', '.' or '-'")
    return value


def _email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise RowError(f"email: {value!r} is not an email address")
    return _checked("email", value)


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    phone = value.translate(_PHONE_SEPARATORS)
    if not _PHONE.match(phone):
        raise RowError(f"phone: {value!r} is not 6-20 digits with an optional '+'")
    return phone


def _timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zone(value)
    except ValueError as exc:
        raise RowError(f"timezone: {exc}") from None
    return value


def _roles(value: str | None) -> list[str]:
    roles = list(dict.fromkeys(r.strip().lower() for r in (value or "").split(";")))
    roles = [r for r in roles if r]
    too_long = next((r for r in roles if len(r) > 64), None)
    if too_long:
        raise RowError(f"roles: {too_long[:20]!r}… is longer than 64 characters")
    if len(";".join(roles)) > 500:
        raise RowError("roles: longer than 500 characters together")
    return roles


def _active(value: str | None) -> bool:
    if value is None or value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise RowError(f"active: {value!r} is not true/false")


def _clean(raw: Mapping[str | None, Any]) -> dict[str, str | None]:
    """Keys stripped and lowercased, values stripped, blanks (and missing cells) as None."""
    if raw.get(None):  # csv.DictReader keeps cells beyond the header under the key None
        raise RowError(f"row has {len(raw) - 1 + len(raw[None])} cells but the header names "
                       f"{len(raw) - 1} columns (a comma in an unquoted value?)")
    cells = {}
    for key, value in raw.items():
        if key and key.strip():
            cells[key.strip().lower()] = (value or "").strip() or None
    return cells


def parse_row(raw: Mapping[str | None, Any]) -> dict[str, Any]:
    """A CSV row as recipient values plus its ``role_list``; RowError names what is wrong."""
    cells = _clean(raw)
    row: dict[str, Any] = {"id": _id(cells.get("id"))}
    if not cells.get("name"):
        raise RowError("name: required")
    row.update({c: _checked(c, cells.get(c)) for c in COLUMNS if c != "id"})
    row.update(email=_email(cells.get("email")), phone=_phone(cells.get("phone")),
               timezone=_timezone(cells.get("timezone")), active=_active(cells.get("active")))
    row["role_list"] = _roles(cells.get("roles"))
    row["roles"] = ";".join(row["role_list"])
    row["attributes"] = {k: v for k, v in cells.items() if k not in KNOWN and v is not None}
    return row


# --- writing ----------------------------------------------------------------------------------

def _updated_columns(header: set[str]) -> list[str]:
    """Only what the file carries is overwritten on people already known."""
    columns = [c for c in sorted(KNOWN) if c in header and c != "id"]
    if header - KNOWN:
        columns.append("attributes")
    return [*columns, "updated_at"]


class _Upserter:
    """Writes a chunk in one transaction: the recipients' upsert, then their role rows."""

    def __init__(self, store: Store, header: set[str]):
        self.store = store
        stmt = store.insert(Recipient)
        updates = {c: stmt.excluded[c] for c in _updated_columns(header)}
        self.upsert = stmt.on_conflict_do_update(index_elements=["id"], set_=updates)
        self.with_roles = "roles" in header

    def write(self, rows: list[dict[str, Any]]) -> None:
        now = utcnow()
        values = [{k: v for k, v in r.items() if k != "role_list"} | {"updated_at": now}
                  for r in rows]
        with self.store.connect() as conn:
            conn.execute(self.upsert, values)
            if self.with_roles:
                self._replace_roles(conn, rows)

    def _replace_roles(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        conn.execute(delete(RecipientRole).where(
            RecipientRole.recipient_id.in_([r["id"] for r in rows])))
        roles = [{"recipient_id": r["id"], "role": role} for r in rows for role in r["role_list"]]
        if roles:
            conn.execute(insert(RecipientRole), roles)


# --- importing --------------------------------------------------------------------------------

def _missing_columns(header: list[str] | None) -> list[str]:
    names = {h.strip().lower() for h in header or [] if h}
    return [c for c in REQUIRED_COLUMNS if c not in names]


class _Importer:
    def __init__(self, store: Store, header: list[str]):
        self.upserter = _Upserter(store, {h.strip().lower() for h in header if h})
        self.report = ImportReport()
        self.first_line: dict[str, int] = {}
        self.pending: list[dict[str, Any]] = []

    def add(self, line: int, raw: Mapping[str | None, Any]) -> None:
        try:
            row = parse_row(raw)
        except RowError as exc:
            self.report.errors.append((line, str(exc)))
            return
        first = self.first_line.setdefault(row["id"], line)
        if first != line:
            self.report.errors.append((line, f"id: {row['id']!r} repeats line {first}; skipped"))
            return
        self.pending.append(row)
        if len(self.pending) >= IMPORT_CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.upserter.write(self.pending)
            self.report.loaded += len(self.pending)
            self.pending = []


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that did not decode (surrogateescape)


def _line_row(fieldnames: list[str], line: str) -> Mapping[str | None, Any]:
    """One line as a row; RowError if it is not one CSV record in UTF-8."""
    if _NOT_UTF8.search(line):
        raise RowError("not UTF-8 text (saved in another encoding? save the file as UTF-8)")
    try:
        return next(csv.DictReader([line], fieldnames=fieldnames, strict=True))
    except csv.Error as exc:
        raise RowError(f"not one CSV row ({exc}): is a quote left open?") from None


def _import_lines(store: Store, lines: Iterator[str]) -> ImportReport:
    header = next(lines, "")
    fieldnames = next(csv.reader([header]), [])
    missing = _missing_columns(fieldnames)
    if missing or _NOT_UTF8.search(header):
        problem = f"missing column(s): {', '.join(missing)}" if missing else "not UTF-8 text"
        return ImportReport(0, [(1, problem)])
    importer = _Importer(store, fieldnames)
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            importer.add(number, _line_row(fieldnames, line))
        except RowError as exc:
            importer.report.errors.append((number, str(exc)))
    importer.flush()
    return importer.report


def import_csv(store: Store, path: str | Path) -> ImportReport:
    """Upsert the recipients in a CSV file; bad rows are reported, good rows still load."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            return _import_lines(store, iter(fh))
    except FileNotFoundError as exc:
        raise DirectoryError(f"no such file: {path}") from exc
    except OSError as exc:
        raise DirectoryError(f"cannot read {path}: {exc}") from exc


# --- audiences --------------------------------------------------------------------------------

def _criteria(audience: Audience) -> list[ColumnElement[bool]]:
    criteria: list[ColumnElement[bool]] = []
    if audience.roles:
        roles = sorted({r.strip().lower() for r in audience.roles})
        criteria.append(exists().where(RecipientRole.recipient_id == Recipient.id,
                                       RecipientRole.role.in_(roles)))
    if audience.departments:
        criteria.append(Recipient.department.in_(audience.departments))
    if audience.grades:
        criteria.append(Recipient.grade.in_(audience.grades))
    return criteria


def audience_filter(audience: Audience) -> ColumnElement[bool]:
    """Active, and (every given filter, or one of the ids); ``everyone`` is every active one."""
    active = Recipient.active.is_(True)
    if audience.everyone:
        return active
    criteria = _criteria(audience)
    chosen = [and_(*criteria)] if criteria else []
    if audience.ids:
        chosen.append(in_json_list(Recipient.id, list(audience.ids)))
    return and_(active, or_(*chosen) if chosen else false())


RECIPIENT_COLUMNS = (Recipient.id, Recipient.name, Recipient.department, Recipient.grade,
                     Recipient.locale, Recipient.email, Recipient.phone, Recipient.wecom_userid,
                     Recipient.wechat_openid, Recipient.timezone, Recipient.roles,
                     Recipient.attributes)


def recipient_dict(row: Any, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A recipient as templates and policies see it: attributes merged under the columns.
    ``keys``: the result's column names, when the caller has them (a page of rows)."""
    values = dict(zip(keys, row)) if keys is not None else dict(row._mapping)
    attributes = values.pop("attributes") or {}
    values["roles"] = [r for r in (values["roles"] or "").split(";") if r]
    return {**attributes, **values}


def people_by_id(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The people among ``ids`` (active or not: ``active`` says), by id."""
    with store.read() as conn:
        rows = conn.execute(select(*RECIPIENT_COLUMNS, Recipient.active)
                            .where(Recipient.id.in_(list(ids)))).all()
    return {p["id"]: p for p in (recipient_dict(r) for r in rows)}


def _page(audience: Audience, after_id: str | None, upto_id: str | None, size: int) -> Select:
    query = select(*RECIPIENT_COLUMNS).where(audience_filter(audience))
    if after_id is not None:
        query = query.where(Recipient.id > after_id)
    if upto_id is not None:
        query = query.where(Recipient.id <= upto_id)
    return query.order_by(Recipient.id).limit(size)


def stream_recipients(store: Store, audience: Audience, *, after_id: str | None = None,
                      upto_id: str | None = None, chunk: int = 2000) -> Iterator[list[dict]]:
    """Recipients in (after_id, upto_id], ordered by id, a query per chunk of at most ``chunk``."""
    while True:
        with store.read() as conn:  # no transaction stays open while the caller works
            result = conn.execute(_page(audience, after_id, upto_id, chunk))
            keys, rows = list(result.keys()), result.all()
        if rows:
            yield [recipient_dict(r, keys) for r in rows]
        if len(rows) < chunk:
            return
        after_id = rows[-1].id


def segment_bounds(store: Store, audience: Audience,
                   size: int) -> list[tuple[str | None, str | None]]:
    """Consecutive (after_id, upto_id] ranges of about ``size`` recipients covering the audience."""
    if size < 1:
        raise ValueError("segment size must be at least 1")
    ids = select(Recipient.id).where(audience_filter(audience)).order_by(Recipient.id)
    bounds: list[tuple[str | None, str | None]] = []
    after: str | None = None
    with store.read() as conn:
        if conn.execute(ids.limit(1)).first() is None:
            return []
        while True:
            page = ids if after is None else ids.where(Recipient.id > after)
            ends = conn.execute(page.offset(size - 1).limit(2)).scalars().all()
            if len(ends) < 2:  # what is left fits in one last, open-ended segment
                return [*bounds, (after, None)]
            bounds.append((after, ends[0]))
            after = ends[0]


def count_audience(store: Store, audience: Audience) -> int:
    with store.read() as conn:
        query = select(func.count()).select_from(Recipient).where(audience_filter(audience))
        return int(conn.execute(query).scalar_one())


def sample_recipient(store: Store, audience: Audience) -> dict | None:
    """The first recipient of the audience (by id), or None if it is empty."""
    return next((page[0] for page in stream_recipients(store, audience, chunk=1)), None)


def segment_labels(store: Store, audience: Audience,
                   bounds: list[tuple[str | None, str | None]]) -> list[str]:
    """What each (after_id, upto_id] segment covers: "all", or "recipients FIRST–LAST"."""
    if bounds == [(None, None)]:
        return ["all"]
    labels = []
    with store.read() as conn:
        for after, upto in bounds:
            ids = select(func.min(Recipient.id), func.max(Recipient.id)).where(
                audience_filter(audience))
            ids = ids.where(Recipient.id > after) if after is not None else ids
            ids = ids.where(Recipient.id <= upto) if upto is not None else ids
            first, last = conn.execute(ids).one()
            labels.append(f"recipients {first}–{last}")
    return labels
