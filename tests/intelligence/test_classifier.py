from __future__ import annotations

import subprocess
import sys

import numpy as np

from clarion.intelligence.classifier import CategoryModel
from clarion.intelligence.evaluation.scores import score
from clarion.intelligence.features import lexicon_tokens, normalise, notice_tokens


class _Pipeline:
    classes_ = np.array(["campus", "emergency", "library"])

    def predict_proba(self, texts):
        return np.array([[0.55, 0.30, 0.15]] * len(texts))


def test_emergency_wins_at_its_threshold_below_the_arg_max():
    assert CategoryModel(_Pipeline(), 0.25, 1).predict(["x", "y"]) == ["emergency"] * 2
    assert CategoryModel(_Pipeline(), 0.35, 1).predict(["x", "y"]) == ["campus"] * 2


def test_features_fold_digits_and_add_lexicon_tokens():
    assert normalise("Room 204, 12月3日") == "room 0, 0月0日"
    tokens = notice_tokens("图书馆停电，请立即撤离 the library")
    assert tokens.count("lex:emergency") >= 2 and "lex:library" in tokens
    assert lexicon_tokens("nothing here", {"nothing", "here"}) == []


def test_held_out_model_beats_chance_by_far(small_model, split):
    _train, test = split
    sample = test[::4]
    scores = score([n.category for n in sample],
                   small_model.predict([f"{n.title}\n{n.body}" for n in sample]))
    assert scores.macro_f1 > 0.6 and scores.emergency_recall >= 0.9


def test_scores_match_hand_counts():
    scores = score(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert scores.labels == ("a", "b") and scores.confusion == ((1, 1), (0, 2))
    assert scores.recall_of("a") == 0.5 and abs(scores.f1[1] - 0.8) < 1e-9


def test_importing_the_package_loads_no_heavy_library():
    code = ("import sys, clarion.intelligence, clarion.intelligence.suggest, "
            "clarion.intelligence.summarize, clarion.cli.models_cmd; "
            "heavy = [m for m in ('sklearn', 'jieba', 'implicit', 'scipy') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_one_notice_path_matches_the_pipeline(small_model, corpus):
    import pickle

    texts = [f"{n.title}\n{n.body}" for n in corpus[::40]] + ["完全没有见过的词语 zzz"]
    expected = small_model.pipeline.predict_proba(texts)
    for text, row in zip(texts, expected):
        assert np.allclose(small_model.probabilities([text])[0], row, atol=1e-9)
    assert "_fast_scorer" not in pickle.loads(pickle.dumps(small_model)).__dict__
