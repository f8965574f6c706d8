"""Reproduce the held-out figures of docs/INTELLIGENCE.md.

    python -m clarion.intelligence.evaluate               # all four
    python -m clarion.intelligence.evaluate classify [--compare]
    python -m clarion.intelligence.evaluate summaries
    python -m clarion.intelligence.evaluate recommend [--people N]
    python -m clarion.intelligence.evaluate segments [--people N]

Everything is deterministic (fixed splits and seeds); the figures come from the held-out
families of the shipped corpus and from a simulated engagement log.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from .classifier import TrainingConfig

COMPARED = {
    "words+lexicon+chars (0.3), C=20 [default]": TrainingConfig(),
    "words+lexicon only, C=20": replace(TrainingConfig(), char_weight=0.0),
    "words+lexicon+chars (1.0), C=20": replace(TrainingConfig(), char_weight=1.0),
    "words+lexicon+chars (0.3), C=5": replace(TrainingConfig(), c=5.0),
    "words+chars (1.0), no lexicon, C=20": replace(TrainingConfig(), lexicon=False, char_weight=1.0),
}


def run_classify(compare: bool) -> None:
    from .evaluation.classification import cross_validate, evaluate_holdout, format_holdout

    if compare:
        print("grouped 5-fold cross-validation on the training families (choosing a setup):")
        for name, config in COMPARED.items():
            cv = cross_validate(config)
            print(f"  {name:<44} macro-F1 {cv.macro_f1:.3f}  emergency recall "
                  f"{cv.emergency_recall:.3f}", flush=True)
        print()
    print(format_holdout(evaluate_holdout()))


def run_summaries() -> None:
    from .evaluation.summaries import evaluate_summaries, format_summaries

    print(format_summaries(evaluate_summaries()))


def run_recommend(people: int) -> None:
    from .evaluation.recommendation import evaluate_recommendation, format_recommendation

    print(format_recommendation(evaluate_recommendation(people=people)))


def run_segments(people: int) -> None:
    from .evaluation.segments import evaluate_segments, format_segments

    print(format_segments(evaluate_segments(people=people), people))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clarion.intelligence.evaluate",
                                     description="held-out evaluation of clarion.intelligence")
    parser.add_argument("part", nargs="?", default="all",
                        choices=["all", "classify", "summaries", "recommend", "segments"])
    parser.add_argument("--compare", action="store_true",
                        help="classify: also cross-validate alternative setups on the training side")
    parser.add_argument("--people", type=int, default=None,
                        help="recommend, segments: simulated people (5,000; 3,000)")
    args = parser.parse_args(argv)
    if args.part in ("all", "classify"):
        print("== category suggestion ==")
        run_classify(args.compare)
    if args.part in ("all", "summaries"):
        print("== summaries for short channels ==")
        run_summaries()
    if args.part in ("all", "recommend"):
        print("== engagement predictions (simulated log) ==")
        run_recommend(args.people or 5000)
    if args.part in ("all", "segments"):
        print("== audience segments that engage with a category (simulated site) ==")
        run_segments(args.people or 3000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
