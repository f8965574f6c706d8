"""The five campus scenarios shipped as examples (clarion/demo/scenarios) run against the
demo campus and show what each says it shows (their ``expect`` lines)."""

from __future__ import annotations

import asyncio

import pytest

from clarion.demo import scenario

pytestmark = pytest.mark.slow


def test_the_five_scenarios_are_shipped() -> None:
    assert scenario.names() == ["events", "library", "research", "safety", "teaching"]


@pytest.mark.parametrize("name", scenario.names())
def test_a_scenario_shows_what_it_expects(name, prefect_api, store, settings, campus,
                                          sms_gateway, smtp_capture, workers, monkeypatch):
    from clarion.settings import get_settings
    campus(300)
    sms_gateway()
    get_settings.cache_clear()
    workers.start()
    assert asyncio.run(scenario.run(store, get_settings(), name)), name
