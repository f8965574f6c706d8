"""Finding the recipient at fault in a refused many-recipient call, across sends."""

from __future__ import annotations

from clarion.channels.isolation import Isolation, split


def test_groups_split_into_about_root_n_parts_then_singles():
    assert [len(p) for p in split(list(range(1000)))] == [32] * 31 + [8]
    assert [len(p) for p in split(list(range(32)))] == [6] * 5 + [2]
    assert split(list(range(6))) == [[i] for i in range(6)]


def test_suspects_split_the_rest_go_together_and_cleared_ones_rejoin():
    iso = Isolation()
    iso.suspect([f"s{i}" for i in range(20)])
    items = [f"s{i}" for i in range(20)] + ["a", "b"]
    free, parts = iso.parts(items, str)
    assert free == ["a", "b"] and [len(p) for p in parts] == [5, 5, 5, 5]
    iso.clear(parts[0])
    free, parts = iso.parts(items, str)
    assert len(free) == 7 and len(parts) == 4  # the 15 left, split again


def test_held_until_its_window_ends_and_memory_is_bounded():
    now = [1000.0]
    iso = Isolation(memory=2, clock=lambda: now[0])
    iso.hold("n1", 60, "day limit")
    assert iso.held("n1") == (60, "day limit")
    now[0] += 59
    assert iso.held("n1") == (1, "day limit")
    now[0] += 1
    assert iso.held("n1") is None
    for n in ("a", "b", "c"):
        iso.hold(n, 60, "x")
        iso.suspect([n])
    assert iso.held("a") is None and iso.held("c") is not None
    assert iso.parts(["a", "b", "c"], str)[0] == ["a"]  # the oldest suspect forgotten
