from __future__ import annotations

import json
import threading

import pytest

from clarion.intelligence.registry import ModelRegistry
from clarion.intelligence.serving import CurrentModel, NoModel


def test_versions_are_numbered_listed_and_marked(tmp_path, small_model):
    registry = ModelRegistry(tmp_path / "models" / "category")
    assert registry.versions() == [] and registry.current_name() is None
    first = registry.add(small_model, {"note": "first"})
    second = registry.add(small_model, {"note": "second"})
    assert (first.name, second.name) == ("v0001", "v0002")
    registry.promote("v0001", "test")
    listed = registry.versions()
    assert [(v.name, v.in_use, v.metrics["note"]) for v in listed] == [
        ("v0001", True, "first"), ("v0002", False, "second")]
    assert json.loads((registry.root / "current.json").read_text())["version"] == "v0001"
    assert registry.load("v0002").predict(["图书馆新书上架"]) == small_model.predict(["图书馆新书上架"])


def test_a_damaged_file_is_refused_and_unknown_versions_cannot_be_promoted(tmp_path, small_model):
    registry = ModelRegistry(tmp_path)
    version = registry.add(small_model, {})
    with open(version.path / "model.pkl", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ValueError, match="checksum"):
        registry.load(version.name)
    with pytest.raises(KeyError):
        registry.promote("v0009")


def test_prune_keeps_the_newest_and_the_one_in_use(tmp_path, small_model):
    registry = ModelRegistry(tmp_path)
    for _ in range(5):
        registry.add(small_model, {})
    registry.promote("v0001")
    assert registry.prune(keep=2) == ["v0002", "v0003"]
    assert [v.name for v in registry.versions()] == ["v0001", "v0004", "v0005"]


def test_serving_keeps_the_current_model_until_a_new_one_is_promoted(tmp_path, small_model):
    registry = ModelRegistry(tmp_path)
    server = CurrentModel(registry, check_every=0.0)
    with pytest.raises(NoModel):
        server.get()
    registry.promote(registry.add(small_model, {}).name)
    assert server.get()[0] == "v0001"
    served: list[str] = []
    stop = threading.Event()

    def read_while_writing() -> None:
        while not stop.is_set():
            name, model = server.get()
            model.predict(["停电通知"])
            served.append(name)

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        written = registry.add(small_model, {"while": "serving"})  # a retrain writing v0002
        assert server.get()[0] == "v0001"                          # not promoted: not served
        registry.promote(written.name)
        assert server.get()[0] == "v0002"
    finally:
        stop.set()
        reader.join()
    assert served and set(served) <= {"v0001", "v0002"}
    assert served == sorted(served)  # never back to the old one once switched
