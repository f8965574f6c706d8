"""Versioned category models under ``<CLARION_DATA_DIR>/models/category/``.

    v0001/model.pkl      the pickled CategoryModel
    v0001/metrics.json   how it was trained and scored, and the pickle's SHA-256
    current.json         {"version": "v0001", …}: the model in use

A version's folder is written under a temporary name and renamed into place, and
``current.json`` is replaced with ``os.replace``: a reader sees either the old model or the new
one, whole, never a half-written file.  The pickles are the site's own (never downloaded); the
checksum catches a truncated or altered file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .classifier import CategoryModel

POINTER = "current.json"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    path: Path
    metrics: dict[str, Any]
    in_use: bool = False


class ModelRegistry:
    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def for_data_dir(cls, data_dir: Path, kind: str = "category") -> "ModelRegistry":
        return cls(Path(data_dir) / "models" / kind)

    def versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first, with the one in use marked."""
        current = self.current_name()
        return [ModelVersion(p.name, p, _read_json(p / "metrics.json"), p.name == current)
                for p in sorted(self.root.glob("v[0-9][0-9][0-9][0-9]*"))
                if (p / "metrics.json").exists()]

    def current_name(self) -> str | None:
        pointer = _read_json(self.root / POINTER)
        return pointer.get("version") if pointer else None

    def add(self, model: CategoryModel, metrics: dict[str, Any]) -> ModelVersion:
        """Write a new version (not yet in use) and return it."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        blob = pickle.dumps(model, protocol=5)
        _write_synced(staging / "model.pkl", blob)
        record = {**metrics, "sha256": hashlib.sha256(blob).hexdigest(),
                  "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _write_synced(staging / "metrics.json", json.dumps(record, indent=2).encode())
        return ModelVersion(*self._rename_into_place(staging), record)

    def promote(self, name: str, reason: str = "") -> None:
        if not (self.root / name / "model.pkl").exists():
            raise KeyError(f"no model version {name!r} in {self.root}")
        pointer = {"version": name, "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   "reason": reason}
        _atomic_write(self.root / POINTER, json.dumps(pointer).encode())

    def load(self, name: str) -> CategoryModel:
        blob = (self.root / name / "model.pkl").read_bytes()
        expected = _read_json(self.root / name / "metrics.json").get("sha256")
        if expected != hashlib.sha256(blob).hexdigest():
            raise ValueError(f"model {name} does not match its checksum")
        return pickle.loads(blob)

    def prune(self, keep: int = 8) -> list[str]:
        """Remove all but the newest ``keep`` versions; never the one in use."""
        old = [v for v in self.versions() if not v.in_use][:-keep or None]
        for version in old:
            shutil.rmtree(version.path)
        return [v.name for v in old]

    def _rename_into_place(self, staging: Path) -> tuple[str, Path]:
        while True:
            numbers = [int(p.name[1:5]) for p in self.root.glob("v[0-9][0-9][0-9][0-9]")]
            name = f"v{max(numbers, default=0) + 1:04d}"
            try:
                os.rename(staging, self.root / name)
                return name, self.root / name
            except OSError:  # another trainer took that number first
                if not (self.root / name).exists():
                    raise


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_synced(temporary, data)
    os.replace(temporary, path)
