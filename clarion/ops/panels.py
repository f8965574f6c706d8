"""Which dashboard panels would show data right now, asked of a real Prometheus.

``panel_queries`` reads a Grafana dashboard JSON and returns each panel's PromQL with the
template variables filled in (``$channel``, ``${channel}``, ``[[channel]]`` — given, or the
dashboard's own "All" value — and Grafana's
built-ins ``$__rate_interval`` → 1m, ``$__interval`` → 15s, ``$__range`` → 1h unless given).
``evaluate_panels`` runs them as instant queries through ``/api/v1/query``: a panel has data
when every one of its queries returns at least one series. A query Prometheus rejects is a
broken dashboard, not an empty panel, and raises :class:`PanelQueryError`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


class PanelQueryError(Exception):
    """A panel query cannot be built or Prometheus refused it."""


def panel_queries(dashboard_json: dict[str, Any],
                  variables: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """``(panel title, expr)`` for every visible query target, variables substituted (those
    not given take the dashboard's own default, see :func:`variable_defaults`)."""
    values = {**BUILTIN_VARIABLES, **variable_defaults(dashboard_json), **(variables or {})}
    return [(panel["title"], substitute(target["expr"], values, panel["title"]))
            for panel in iter_panels(dashboard_json.get("panels", []))
            for target in panel.get("targets", [])
            if target.get("expr") and not target.get("hide")]


def variable_defaults(dashboard_json: dict[str, Any]) -> dict[str, str]:
    """A value for each of the dashboard's own query variables that has one without asking
    Prometheus: its "All" value (``allValue``) when it offers All, else a fixed current value."""
    out = {}
    for variable in dashboard_json.get("templating", {}).get("list", []):
        current = (variable.get("current") or {}).get("value")
        if variable.get("includeAll") and variable.get("allValue"):
            out[variable["name"]] = variable["allValue"]
        elif isinstance(current, str) and current and not current.startswith("$__"):
            out[variable["name"]] = current
    return out


def iter_panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def substitute(expr: str, values: dict[str, str], where: str = "") -> str:
    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise PanelQueryError(f"panel {where!r} uses ${name}: pass variables={{{name!r}: ...}}")
        return values[name]
    return _VARIABLE.sub(value, expr)


def instant_query(prometheus_url: str, expr: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The result vector of one instant query (``[]`` when nothing matches)."""
    url = prometheus_url.rstrip("/") + "/api/v1/query"
    body = urllib.parse.urlencode({"query": expr}).encode()
    try:
        with urllib.request.urlopen(url, data=body, timeout=timeout) as response:
            reply = json.load(response)
    except urllib.error.HTTPError as exc:  # 400/422 carry Prometheus' own error
        reply = _error_body(exc)
    if reply.get("status") != "success":
        raise PanelQueryError(f"Prometheus refused {expr!r}: "
                              f"{reply.get('errorType', 'error')}: {reply.get('error', reply)}")
    data = reply["data"]
    if data["resultType"] in ("scalar", "string"):  # one [time, value] pair
        return [{"value": data["result"]}]
    return data["result"]


def evaluate_panels(prometheus_url: str, dashboards_dir: str | Path,
                    variables: dict[str, str] | None = None,
                    only: Iterable[str] | None = None) -> dict[str, bool]:
    """``{"<dashboard uid>/<panel title>": has_data}`` for every dashboard JSON in the folder.

    ``only`` limits the run to some dashboard uids. A panel has data when each of its
    queries returns at least one series (a NaN sample still counts: the series exists).
    """
    wanted = set(only) if only is not None else None
    found: dict[str, bool] = {}
    for path in sorted(Path(dashboards_dir).glob("*.json")):
        dashboard = json.loads(path.read_text())
        if wanted is not None and dashboard.get("uid") not in wanted:
            continue
        for title, expr in panel_queries(dashboard, variables):
            key = f"{dashboard.get('uid')}/{title}"
            has_data = bool(instant_query(prometheus_url, expr))
            found[key] = found.get(key, True) and has_data
    return found


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        return json.loads(exc.read())
    except ValueError:
        return {"status": "error", "errorType": f"HTTP {exc.code}", "error": exc.reason}
