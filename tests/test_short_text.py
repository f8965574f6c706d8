"""Texts for short channels: a long body with no SMS or push text of its own is summarised
to fit one segment (keeping the template's expressions and the facts whole); what the
sender wrote for a channel is never replaced; the preview shows it before sending."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from clarion.intelligence.summarize.sms import sms_length
from clarion.planning.short_text import with_short_texts

from .conftest import ROOT

SPECS = {"sms": {"type": "sms_gateway"}, "push": {"type": "webpush", "summary_limit": 50},
         "inbox": {"type": "inbox"}, "tencent": {"type": "tencent_sms", "summary_limit": 40}}
BODY = ("各位同学：因电力检修，东校区将于12月5日（周六）8:00至12:00停电，{{ recipient.name }}"
        "请提前保存工作。停电期间图书馆东馆暂停开放，食堂照常营业。如有疑问请致电后勤处 "
        "010-62751234。")
NUMBERS = re.compile(r"\d+")


def test_a_long_body_is_summarised_for_short_channels_only():
    variants = {"default": {"title": "停电通知", "body": BODY}}
    out, derived = with_short_texts(variants, ["sms", "push", "inbox", "tencent"], SPECS,
                                    reserve=8)
    assert derived == ["sms", "push", "tencent"] and "inbox" not in out
    for channel, limit in (("sms", 70 - 8), ("tencent", 40 - 8)):
        text = out[channel]["text"]
        assert sms_length(text.replace("{{ recipient.name }}", "")) <= limit, text
        assert set(NUMBERS.findall(text)) <= set(NUMBERS.findall(BODY)), text
    body = out["push"]["body"].replace("{{ recipient.name }}", "")
    assert out["push"]["title"] == "停电通知" and sms_length(body) <= 50, body


def test_what_the_sender_wrote_is_kept():
    variants = {"default": {"title": "t", "body": BODY}, "sms": {"text": "Power off Sat."}}
    out, derived = with_short_texts(variants, ["sms"], SPECS)
    assert derived == [] and out["sms"] == {"text": "Power off Sat."}
    short = {"default": {"title": "t", "body": "Power off Saturday 8-12."}}
    assert with_short_texts(short, ["sms"], SPECS)[1] == []  # it fits as it is
    loop = {"default": {"title": "t", "body": BODY + "{% for x in xs %}{{ x }}{% endfor %}"}}
    assert with_short_texts(loop, ["sms"], SPECS)[1] == []  # statements: left as they are


def test_the_preview_shows_each_channel_before_anything_is_sent(store, tmp_path, clarion_env):
    (tmp_path / "p.csv").write_text("id,name,phone\nS1,Ann,+8613900000001\n")
    subprocess.run([sys.executable, "-m", "clarion.cli.main", "directory", "import",
                    str(tmp_path / "p.csv")], cwd=ROOT, check=True, capture_output=True)
    request = {"name": "Power", "category": "campus", "audience": {"everyone": True},
               "channels": ["sms", "inbox"],
               "content": {"default": {"title": "停电通知", "body": BODY}}}
    (tmp_path / "r.json").write_text(json.dumps(request, ensure_ascii=False))
    result = subprocess.run([sys.executable, "-m", "clarion.cli.main", "campaign", "send",
                             "--request", str(tmp_path / "r.json"), "--preview"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "sms (a summary of the body: no text of its own)" in result.stdout
    assert "1 SMS" in result.stdout and "回复TD退订" in result.stdout  # the hint fits too
    from sqlalchemy import func, select

    from clarion.store.models import Campaign
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(Campaign)).scalar() == 0
