from __future__ import annotations

from collections import Counter

from clarion.intelligence.categories import CATEGORIES
from clarion.intelligence.corpus import corpus_path
from clarion.intelligence.corpus.build import build_corpus, corpus_bytes
from clarion.intelligence.summarize.facts import numbers_absent_from


def test_corpus_is_large_varied_and_labeled(corpus):
    assert len(corpus) >= 1500
    assert set(Counter(n.category for n in corpus)) == set(CATEGORIES)
    assert min(Counter(n.category for n in corpus).values()) >= 150
    languages = Counter(n.lang for n in corpus)
    assert {"zh", "en", "mixed"} <= set(languages) and languages["mixed"] >= 100
    assert len({n.family for n in corpus}) >= 150
    lengths = sorted(len(n.title) + len(n.body) for n in corpus)
    assert lengths[0] < 60 and lengths[-1] > 400
    assert len({n.id for n in corpus}) == len(corpus)
    assert len({(n.title, n.body) for n in corpus}) == len(corpus)


def test_hard_cases_are_present(corpus):
    hard = {n.family: n.category for n in corpus if n.hard}
    assert "emergency" in hard.values() and "campus" in hard.values()
    assert any("fire" in n.body.lower() or "消防" in n.body
               for n in corpus if n.hard and n.category == "academic")


def test_split_keeps_each_family_on_one_side(split):
    train, test = split
    assert not {n.family for n in train} & {n.family for n in test}
    assert set(n.category for n in test) == set(CATEGORIES)
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.3
    assert sum(1 for n in test if n.summary) >= 100


def test_reference_summaries_invent_no_numbers(corpus):
    for notice in corpus:
        if notice.summary:
            assert not numbers_absent_from(notice.summary, f"{notice.title}\n{notice.body}")


def test_shipped_file_is_what_the_families_build():
    assert corpus_bytes(build_corpus()) == corpus_path().read_bytes()
