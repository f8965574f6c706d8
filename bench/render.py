#!/usr/bin/env python
"""Render cost per recipient of a personalised notice (inbox + SMS), as fan-out pays it.

Best of ``--rounds`` rounds of ``--people`` recipients; run it on two checkouts to compare a
content change (the bounded sandbox and output caps cost is in here, the database is not):

    python bench/render.py                    # µs per recipient for the two channels
"""

from __future__ import annotations

import argparse
import time

from clarion.content import compile_content

NOTICE = {"default": {"title": "{{ course }} moved",
                      "body": "Dear {{ recipient.name }}, {{ course }} is in room {{ room }} at "
                              "{{ time }} ({{ recipient.department }})."},
          "sms": {"text": "Dear {{ recipient.name }}, {{ course }} moved to room {{ room }}"}}
VARIABLES = {"course": "CS101", "room": "B-204", "time": "9:00"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    compiled = compile_content(NOTICE, ["inbox", "sms"])
    people = [{"id": f"s{i}", "name": f"Student {i}", "department": "CS", "roles": []}
              for i in range(args.people)]
    best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        for person in people:
            compiled.render("inbox", person, VARIABLES)
            compiled.render("sms", person, VARIABLES)
        best = min(best, time.perf_counter() - started)
    print(f"{best / args.people * 1e6:.1f} µs per recipient (inbox + sms), best of {args.rounds}")


if __name__ == "__main__":
    main()
