"""``clarion models``: the versions under the data folder, the one in use marked."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from clarion.cli.main import app
from clarion.intelligence.registry import ModelRegistry
from clarion.settings import get_settings


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLARION_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_models_list_shows_versions_and_the_one_in_use(data_dir, small_model):
    run = CliRunner().invoke
    empty = run(app, ["models", "list"])
    assert empty.exit_code == 0 and "no models" in empty.output
    registry = ModelRegistry.for_data_dir(data_dir)
    registry.add(small_model, {"trained_on": 10, "held_out": 4, "promoted": True,
                               "scores": {"macro_f1": 0.5}})
    registry.add(small_model, {"trained_on": 12, "held_out": 4, "promoted": False,
                               "reason": "macro-F1 0.100 < current 0.500",
                               "scores": {"macro_f1": 0.1}})
    registry.promote("v0001")
    listed = run(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert "* v0001" in listed.output and "refused: macro-F1 0.100" in listed.output
    rows = json.loads(run(app, ["models", "list", "--json"]).output)
    assert [(r["version"], r["in_use"]) for r in rows] == [("v0001", True), ("v0002", False)]


def test_models_suggest_flags_a_downgrade(data_dir, small_model):
    registry = ModelRegistry.for_data_dir(data_dir)
    registry.promote(registry.add(small_model, {}).name)
    result = CliRunner().invoke(app, ["models", "suggest", "--title", "紧急通知",
                                      "--body", "化学楼发生火情，请立即撤离，不要乘坐电梯。",
                                      "--sent-as", "campus"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("emergency") and "flag:" in result.output
