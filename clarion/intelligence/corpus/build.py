"""Build ``data/corpus.jsonl.gz`` from the hand-written families, deterministically.

    python -m clarion.intelligence.corpus.build [--check]

Each family expands into 8–14 notices (slot values, phrasing alternatives, optional sentences);
identical notices are dropped.  A reference summary that names a date, time or number the notice
does not contain (an optional sentence was left out) is dropped for that notice.  The same
family files give the same bytes on every machine (fixed seeds, gzip without a timestamp).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import sys
from pathlib import Path

from ..summarize.facts import numbers_absent_from
from .dates import date_slots
from .families import Family, read_families, read_slot_pools
from .load import corpus_path
from .template import Expander

MIN_VARIANTS, MAX_VARIANTS = 8, 14


def stable_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def expand_family(family: Family, pools: dict[str, list[str]]) -> list[dict]:
    wanted = MIN_VARIANTS + stable_seed(family.id) % (MAX_VARIANTS - MIN_VARIANTS + 1)
    notices: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for attempt in range(wanted * 4):
        if len(notices) == wanted:
            break
        notice = _one_notice(family, pools, random.Random(stable_seed(f"{family.id}/{attempt}")))
        if (notice["title"], notice["body"]) not in seen:
            seen.add((notice["title"], notice["body"]))
            notice["id"] = f"{family.id}-{len(notices):02d}"
            notices.append(notice)
    return notices


def _one_notice(family: Family, pools: dict[str, list[str]], rng: random.Random) -> dict:
    expander = Expander(rng, pools, date_slots(rng))
    title, body = expander.expand(family.title), expander.expand(family.body)
    summary = expander.expand(family.summary) if family.summary else None
    if summary and numbers_absent_from(summary, f"{title}\n{body}"):
        summary = None
    return {"id": "", "family": family.id, "category": family.category, "lang": family.lang,
            "office": expander.expand(family.office), "title": title, "body": body,
            "summary": summary, "hard": family.hard}


def build_corpus() -> list[dict]:
    pools = read_slot_pools()
    return [n for family in read_families() for n in expand_family(family, pools)]


def corpus_bytes(notices: list[dict]) -> bytes:
    lines = "".join(json.dumps(n, ensure_ascii=False, sort_keys=True) + "\n" for n in notices)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(lines.encode("utf-8"))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the shipped file differs from a fresh build")
    args = parser.parse_args(argv)
    data = corpus_bytes(build_corpus())
    path = corpus_path()
    if args.check:
        same = path.exists() and path.read_bytes() == data
        print("corpus is up to date" if same else f"{path} differs from a fresh build")
        return 0 if same else 1
    Path(path).write_bytes(data)
    print(f"wrote {path} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
