"""The dashboard JSON files: loadable, fixed uids, a datasource and a query on every panel,
and only metric names that Clarion (clarion/metrics.py) or RabbitMQ actually export."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from clarion.ops.panels import iter_panels, panel_queries

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}  # the data source variable
EXPECTED_UIDS = {"clarion-overview.json": "clarion-overview",
                 "clarion-channel.json": "clarion-channel"}

# RabbitMQ's prometheus plugin (port 15692, aggregated /metrics): names a panel may use.
RABBITMQ_METRICS = {
    "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked", "rabbitmq_queue_messages",
    "rabbitmq_queue_consumers", "rabbitmq_queues", "rabbitmq_connections", "rabbitmq_channels",
    "rabbitmq_consumers", "rabbitmq_global_messages_received_total",
    "rabbitmq_global_messages_delivered_total",
    "rabbitmq_global_messages_dead_lettered_rejected_total",
}
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created")}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                "and", "or", "unless", "le", "inf", "nan"}


FAMILIES = {"GaugeMetricFamily": "gauge", "CounterMetricFamily": "counter"}


def clarion_metric_names() -> set[str]:
    """Exported sample names of every metric declared in clarion/metrics.py and of the
    scrape-time collectors in clarion/ops/collectors.py (parsed, not run)."""
    names = set()
    for source in ("metrics.py", "ops/collectors.py"):
        tree = ast.parse((ROOT / "clarion" / source).read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            kind = FAMILIES.get(node.func.id, node.func.id.lower())
            if kind in SUFFIXES:
                base = node.args[0].value.removesuffix("_total")
                names.update(base + s for s in SUFFIXES[kind])
    return names


def metric_names_in(expr: str) -> set[str]:
    """Identifiers used as metric names: strings, label matchers, grouping and functions removed."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    tokens = re.findall(r"(?<![\w.$])([A-Za-z_:][\w:]*)\s*(\(?)", expr)
    return {word for word, call in tokens if not call and word.lower() not in PROMQL_WORDS}


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_expected_dashboards_exist_with_fixed_unique_uids():
    files = {p.name: load(p) for p in dashboard_files()}
    assert {name: d["uid"] for name, d in files.items()} == EXPECTED_UIDS
    assert len({d["uid"] for d in files.values()}) == len(files)
    for d in files.values():
        assert d["title"] and 36 <= d["schemaVersion"] <= 41
        assert d.get("id") is None


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_panel_has_a_datasource_and_a_query(path):
    dashboard = load(path)
    panels = [p for p in iter_panels(dashboard["panels"]) if p["type"] != "row"]
    assert panels
    assert len({p["id"] for p in iter_panels(dashboard["panels"])}) == \
        len(list(iter_panels(dashboard["panels"])))
    titles = [p["title"] for p in panels]
    assert len(set(titles)) == len(titles), "panel titles are keys of evaluate_panels"
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", DATASOURCE) == DATASOURCE, panel["title"]
    assert "${DS" not in path.read_text()


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_metric_in_a_query_is_exported(path):
    known = clarion_metric_names() | RABBITMQ_METRICS
    for title, expr in panel_queries(load(path), {"channel": "email"}):
        used = metric_names_in(expr)
        assert used, f"{title}: no metric in {expr!r}"
        assert used <= known, f"{title}: unknown metric(s) {used - known} in {expr!r}"


def variables(dashboard: dict) -> dict[str, dict]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_board_picks_its_prometheus_by_a_variable_not_a_fixed_uid(path):
    dashboard = load(path)
    variable = variables(dashboard)["datasource"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    assert dashboard["templating"]["list"][0] is variable  # first: the others query through it
    assert '"uid": "prometheus"' not in path.read_text()


def test_the_overview_filters_channel_queries_by_a_multi_value_variable():
    dashboard = load(DASHBOARDS / "clarion-overview.json")
    variable = variables(dashboard)["channel"]
    assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"
    assert variable["datasource"] == DATASOURCE
    labelled = ("clarion_deliveries_total", "clarion_delivery_latency", "clarion_backlog_age",
                "clarion_delivery_skips", "clarion_account_stopped", "clarion_provider_",
                "clarion_queue_")
    for title, expr in panel_queries(dashboard, {"channel": "CHAN"}):
        if any(name in expr for name in labelled):
            assert "CHAN" in expr, title
    queries = dict(panel_queries(dashboard, {"channel": "email|sms"}))
    assert 'clarion_backlog_age_seconds{channel=~"email|sms"}' in queries["Backlog age"]


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_backlog_age_and_success_rate_carry_the_alerts_thresholds(path):
    panels = {p["title"]: p for p in iter_panels(load(path)["panels"])}
    success = panels.get("Success rate by channel") or panels["Success rate"]
    for panel, (first, second) in ((panels["Backlog age"], (300, 900)), (success, (0.8, 0.95))):
        assert panel["type"] == "timeseries"
        defaults = panel["fieldConfig"]["defaults"]
        steps = [s["value"] for s in defaults["thresholds"]["steps"]]
        assert steps == [None, first, second], panel["title"]
        assert defaults["custom"]["thresholdsStyle"]["mode"] != "off", panel["title"]


def test_the_channel_board_filters_every_query_by_its_variable():
    dashboard = load(DASHBOARDS / "clarion-channel.json")
    variable = variables(dashboard)["channel"]
    assert variable["name"] == "channel" and variable["type"] == "query"
    assert variable["datasource"] == DATASOURCE
    assert variable["definition"] == "label_values(clarion_deliveries_total, channel)"
    for panel in iter_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            assert "$channel" in target["expr"], panel["title"]


def test_metric_name_parsing_sees_through_promql():
    assert clarion_metric_names() >= {"clarion_deliveries_total", "clarion_queue_depth",
                                      "clarion_delivery_latency_seconds_bucket"}
    assert "clarion_deliveries" not in clarion_metric_names()
    expr = ('histogram_quantile(0.95, sum by (channel, le) (rate(x_bucket{queue=~"a.b"}[5m])))'
            ' or on() vector(0) / ignoring(foo) y_total offset 10m')
    assert metric_names_in(expr) == {"x_bucket", "y_total"}
