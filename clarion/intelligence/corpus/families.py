"""Parse the hand-written family files in ``data/families/``.

A family is one source notice written by hand, with slots and phrasing alternatives; the builder
expands it into several notices.  Format (see the header of each file)::

    === family-id | lang | office
    title: …            (alternatives with {a|b})
    body: …             (indented lines continue the body as new paragraphs)
    summary: …          (a reference summary for short channels; optional)
    hard: …             (why the family is a hard case; optional)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FAMILY_DIR = Path(__file__).resolve().parent.parent / "data" / "families"
FIELDS = ("title", "body", "summary", "hard")


@dataclass(frozen=True)
class Family:
    id: str
    category: str
    lang: str
    office: str
    title: str
    body: str
    summary: str | None = None
    hard: str | None = None


def read_families(directory: Path = FAMILY_DIR) -> list[Family]:
    """Every family of every category file (the file's name is the category)."""
    families: list[Family] = []
    for path in sorted(directory.glob("*.txt")):
        if path.stem != "slots":
            families.extend(_parse_file(path.read_text(encoding="utf-8"), path.stem))
    return families


def read_slot_pools(directory: Path = FAMILY_DIR) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {}
    for line in (directory / "slots.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, values = line.partition(":")
            pools[name.strip()] = [v.strip() for v in values.split("|")]
    return pools


def _parse_file(text: str, category: str) -> list[Family]:
    blocks = [b for b in text.split("\n=== ")[1:]]
    return [_parse_block(block, category) for block in blocks]


def _parse_block(block: str, category: str) -> Family:
    header, *lines = block.splitlines()
    family_id, lang, office = (part.strip() for part in header.split("|"))
    fields: dict[str, str] = {}
    current = ""
    for line in lines:
        if line.startswith("  ") and current:
            fields[current] += "\n" + line.strip()
        elif ":" in line and line.split(":", 1)[0] in FIELDS:
            current, _, value = line.partition(":")
            fields[current] = value.strip()
    if "title" not in fields or "body" not in fields:
        raise ValueError(f"family {family_id} needs a title and a body")
    return Family(family_id, category, lang, office, fields["title"], fields["body"],
                  fields.get("summary"), fields.get("hard"))
