"""Templates shipped as files: ``"template": "file:NAME"`` names ``clarion/templates/NAME.json``.

Deployments in ``prefect.yaml`` reference their text this way, because Prefect runs its own
``{{ name }}`` templating over that file when it deploys and would empty Jinja written inline
there.  The file is loaded into the stored templates under its ``file:`` name when a campaign
is prepared — written only when its text changed, so loading it again is harmless — and
everything after (fan-out, trace, console) reads the stored copy like any other template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from . import content
from .store.db import Store

PREFIX = "file:"
DIRECTORY = Path(__file__).with_name("templates")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,100}$")


def is_file_template(name: str | None) -> bool:
    return bool(name) and str(name).startswith(PREFIX)


def names() -> list[str]:
    return sorted(PREFIX + p.stem for p in DIRECTORY.glob("*.json"))


def read(name: str) -> dict[str, Any]:
    """The variants of ``file:NAME``, checked; a ContentError naming ``template`` if not."""
    stem = name[len(PREFIX):]
    path = DIRECTORY / f"{stem}.json"
    if not _NAME.match(stem) or not path.is_file():
        raise content.ContentError("template", f"no template file {name!r}; there are: "
                                               f"{', '.join(names()) or 'none'}")
    try:
        variants = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise content.ContentError("template", f"{path.name} is not valid JSON "
                                               f"(line {exc.lineno}: {exc.msg})") from exc
    return content.validate_variants(variants)


def load(store: Store, name: str) -> None:
    """Store ``file:NAME`` under that name unless the stored copy is the same already."""
    variants = read(name)
    try:
        if content.load_template(store, name) == variants:
            return
    except content.ContentError:
        pass  # not stored yet
    content.save_template(store, name, variants)
