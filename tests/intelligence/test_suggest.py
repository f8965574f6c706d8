from __future__ import annotations

import time

import pytest

from clarion.intelligence.suggest import check_category, suggest

FIRE = ("紧急通知：理科楼发生火情", "理科楼三楼发生火情，请楼内人员立即沿安全通道撤离，不要乘坐电梯。")
CALM_POWER_CUT = ("A note about tonight", "Hello everyone, because of a fault in the switch room "
                  "the power in West Hall 7 will be cut from 8 pm for about two hours. Please "
                  "charge your phones and do not light candles.")
CONCERT = ("新年音乐会门票发放", "校学生艺术团新年音乐会将于12月30日晚上7点在学生会堂举行，门票免费领取。")


@pytest.mark.parametrize("title, body, words", [
    ("", "", "empty"),
    (None, None, "empty"),
    ("   ", "\n\t ", "empty"),
    ("😀🎉", "🔥🔥🔥 !!! 123", "no words"),
    ("Notice", "x" * 1_048_576, "characters long"),
])
def test_unusable_text_gets_no_category_and_a_reason(small_model, title, body, words):
    started = time.perf_counter()
    result = suggest(title, body, small_model)
    assert result.category is None and words in result.reason
    assert time.perf_counter() - started < 0.5  # a 1 MB body is refused, not tokenised


def test_clear_notices_get_their_category(small_model):
    assert suggest(*FIRE, small_model).category == "emergency"
    assert suggest(*CONCERT, small_model).category == "campus"
    result = suggest("Your loan is overdue", "The book you borrowed was due back on 3 May; "
                     "please return it to the library or renew it online.", small_model)
    assert result.category == "library" and result.confidence > 0.4


def test_an_emergency_sent_as_campus_is_flagged_not_changed(small_model):
    for title, body in (FIRE, CALM_POWER_CUT):
        flag = check_category("campus", title, body, small_model)
        assert flag is not None and flag.looks_like == "emergency" and flag.sent_as == "campus"
        assert "has not been changed" in flag.message
    assert check_category("emergency", *FIRE, small_model) is None


def test_no_flag_for_a_routine_notice_or_unusable_text(small_model):
    assert check_category("campus", *CONCERT, small_model) is None
    assert check_category("campus", "", "😀", small_model) is None


def test_no_model_yet_is_an_answer(monkeypatch, tmp_path):
    from clarion.settings import get_settings
    monkeypatch.setenv("CLARION_DATA_DIR", str(tmp_path))  # a site with no model
    get_settings.cache_clear()
    result = suggest(*FIRE)
    get_settings.cache_clear()
    assert result.category is None and "no category model" in result.reason
