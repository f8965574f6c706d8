"""Bad policy input from the command line and the directory: refused naming the field, and
nothing already stored changes."""

from __future__ import annotations

import os
import subprocess
import sys

from clarion.directory import import_csv
from clarion.store import policy as sql

from .conftest import ROOT


def _clarion(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clarion.cli.main", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def test_a_time_zone_that_is_not_an_iana_name_is_refused(store, tmp_path, clarion_env):
    path = tmp_path / "people.csv"
    path.write_text("id,name,timezone\nS1,Ann,Europe/Berlin\nS2,Bo,Mars/Olympus\n"
                    "S3,Cy,../../etc/passwd\n")
    report = import_csv(store, path)
    assert report.loaded == 1
    assert [line for line, _ in report.errors] == [3, 4]
    assert all(msg.startswith("timezone: ") for _, msg in report.errors), report.errors
    bad = _clarion("category", "list", env={"CLARION_DEFAULT_TIMEZONE": "Asia/Nowhere"})
    assert bad.returncode == 2 and "default_timezone" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_cli_refuses_bad_rules_categories_and_preferences(store, clarion_env):
    before = (sql.rules(store), sql.categories(store))
    for args, words in (
            (("rules", "set", "campus", "--channels", "sms,pigeon"), "channels: unknown"),
            (("rules", "set", "nonesuch", "--channels", "sms"), "category: unknown"),
            (("rules", "set", "campus", "--channels", "sms", "--mode", "some"), "mode"),
            (("category", "set", "campus", "--quiet-hours", "22:00-31:00"), "quiet_hours"),
            (("category", "set", "campus", "--digest", "fortnight"), "--digest"),
            (("preferences", "set", "S404", "--category", "campus", "--out"),
             "no recipient 'S404'")):
        result = _clarion(*args)
        assert result.returncode in (1, 2), (args, result.stdout)
        assert words in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert (sql.rules(store), sql.categories(store)) == before
