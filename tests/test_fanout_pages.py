"""Pages of recipients shared by a campaign's channels during fan-out."""

from __future__ import annotations

import threading

import pytest

from clarion.planning.pages import SharedPages


def test_channels_of_a_segment_read_each_page_once_and_it_is_dropped_after_the_last():
    pages, reads = SharedPages(), []

    def read() -> list[dict]:
        reads.append(1)
        return [{"id": "r1"}]

    got = [pages.get(("db", "c1", None, None, 200), 3, read) for _ in range(3)]
    assert got[0] == got[1] == got[2] == [{"id": "r1"}] and len(reads) == 1
    assert len(pages) == 0  # all three channels took it
    pages.get(("db", "c1", None, None, 200), 3, read)  # a retried fan-out reads again
    assert len(reads) == 2


def test_a_page_asked_for_while_it_is_being_read_waits_for_that_read():
    pages, started, release, reads = SharedPages(), threading.Event(), threading.Event(), []

    def slow() -> list[dict]:
        reads.append(1)
        started.set()
        release.wait(5)
        return [{"id": "r1"}]

    out: list = []
    first = threading.Thread(target=lambda: out.append(pages.get(("k",), 2, slow)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: out.append(pages.get(("k",), 2, slow)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert out == [[{"id": "r1"}], [{"id": "r1"}]] and len(reads) == 1


def test_at_most_limit_pages_are_kept_and_a_failed_read_is_not():
    pages = SharedPages(limit=2)
    for n in range(5):
        pages.get(("k", n), 3, lambda: [])
    assert len(pages) == 2

    def broken() -> list[dict]:
        raise OSError("database is gone")

    with pytest.raises(OSError):
        pages.get(("bad",), 3, broken)
    assert pages.get(("bad",), 3, lambda: [{"id": "r9"}]) == [{"id": "r9"}]


def test_a_page_older_than_max_age_is_read_again():
    pages, reads = SharedPages(max_age=0.05), []

    def read() -> list[dict]:
        reads.append(1)
        return [{"id": f"r{len(reads)}"}]

    assert pages.get(("k",), 3, read) == [{"id": "r1"}]  # two channels never came for it
    import time
    time.sleep(0.1)
    assert pages.get(("k",), 3, read) == [{"id": "r2"}] and len(reads) == 2


def test_a_channel_waiting_on_a_failed_read_reads_the_page_itself():
    pages, started, release = SharedPages(), threading.Event(), threading.Event()
    calls = []

    def flaky() -> list[dict]:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            release.wait(5)
            raise OSError("database is gone")
        return [{"id": "r1"}]

    errors: list = []
    first = threading.Thread(target=lambda: _catch(errors, pages.get, ("k",), 2, flaky))
    first.start()
    assert started.wait(5)
    out: list = []
    second = threading.Thread(target=lambda: out.append(pages.get(("k",), 2, flaky)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert isinstance(errors[0], OSError) and out == [[{"id": "r1"}]]


def _catch(errors: list, fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)
