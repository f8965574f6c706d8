from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.intelligence.evaluation.rouge import rouge, rouge_tokens
from clarion.intelligence.summarize import summarize
from clarion.intelligence.summarize.facts import find_facts, numbers_absent_from
from clarion.intelligence.summarize.sms import is_gsm7, segment_limit, sms_length
from clarion.intelligence.summarize.summarizer import cut


def assert_faithful(summary: str, source: str, limit: int) -> None:
    assert sms_length(summary) <= limit
    assert not numbers_absent_from(summary, source), summary
    source_facts = {f.text for f in find_facts(source)}
    for fact in find_facts(summary.rstrip("…. ")):
        if fact.kind in ("date", "time", "link"):
            assert any(fact.text in whole for whole in source_facts), (fact, summary)


def test_every_corpus_summary_fits_one_segment_and_invents_nothing(corpus):
    for notice in corpus:
        source = f"{notice.title}\n{notice.body}"
        result = summarize(notice.body, notice.title)
        assert result.limit == segment_limit(source) and result.text
        assert_faithful(result.text, source, result.limit)


def test_configurable_limits_are_kept(corpus):
    for notice in corpus[::25]:
        for limit in (30, 50, 120):
            result = summarize(notice.body, notice.title, limit=limit)
            assert_faithful(result.text, notice.title + notice.body, limit)


def test_dates_times_places_and_links_stay_whole():
    body = ("各位同学：因考场统一调配，原定于12月3日（周四）下午2:30在第二教学楼A305举行的线性代数期末考试"
            "调整至12月10日（周四）上午9:00，考场不变。选课网址 https://jwc.example.edu.cn/xk 。请相互转告。")
    text = summarize(body, limit=70).text
    assert "12月10日（周四）上午9:00" in text and "各位同学" not in text
    assert "https://jwc.example.edu.cn/xk" in summarize(body, limit=160).text


def test_cut_never_splits_a_fact():
    text = "Meet on Thursday 3 December at 2:30 pm in Room 204, Science Building, please."
    for limit in range(8, len(text)):
        assert_faithful(cut(text, limit), text, limit)


def test_a_gsm7_notice_gets_a_gsm7_summary(corpus):
    for notice in corpus:
        if is_gsm7(notice.title + notice.body):
            for limit in (None, 40):
                assert is_gsm7(summarize(notice.body, notice.title, limit=limit).text)


def test_sms_lengths():
    assert is_gsm7("Exam at 9:00 in Room 204") and segment_limit("Exam at 9:00") == 160
    assert sms_length("[x]") == 5 and sms_length("考试") == 2 and segment_limit("考试") == 70


def test_empty_and_title_only():
    assert summarize("", "").text == "" and summarize("", "").method == "empty"
    assert summarize("", "图书馆闭馆通知").text == "图书馆闭馆通知"


def test_rouge_counts_characters_for_chinese_and_words_for_english():
    assert rouge_tokens("图书馆 Open Day 10点") == ["图", "书", "馆", "open", "day", "10", "点"]
    assert rouge("a b c", "a b c").rouge2 == 1.0
    r = rouge("图书馆开馆", "图书馆闭馆")
    assert abs(r.rouge1 - 0.8) < 1e-9 and abs(r.rouge2 - 0.5) < 1e-9 and abs(r.rougeL - 0.8) < 1e-9


FILLER = st.sampled_from(["请准时参加", "please bring your card", "地点不变", "详见通知",
                          "the room has changed", "欢迎参加", "逾期不予受理"])
FACT = st.one_of(
    st.builds(lambda m, d: f"{m}月{d}日", st.integers(1, 12), st.integers(1, 28)),
    st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30])),
    st.builds(lambda n: f"Room {n}", st.integers(100, 999)),
    st.builds(lambda n: f"https://example.edu.cn/n/{n}", st.integers(1, 99999)))
SENTENCE = st.builds(lambda a, f, b, end: f"{a} {f} {b}{end}", FILLER, FACT, FILLER,
                     st.sampled_from(["。", ". ", "！", "；", "\n"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(SENTENCE, min_size=1, max_size=8), st.integers(20, 200))
def test_generated_notices_are_summarised_faithfully(sentences, limit):
    body = "".join(sentences)
    assert_faithful(summarize(body, limit=limit).text, body, limit)
