"""``GET /v1/inbox?order=for_you``: critical categories first (never hidden), then the
reader's learned interest per category, newest first within each; every page through its
cursor; the default order stays newest first, and is what a reader who opted out of
profiling gets."""

from __future__ import annotations

from clarion.store import engagement

from .inbox_site import into_inbox, reader, send

# oldest first; safety is critical, exams has no learned interest
SENT = ("safety", "library", "campus", "research", "safety", "campus", "exams", "library")
INTERESTS = {"library": 0.9, "research": 0.5, "campus": 0.1, "safety": 0.0, "general": 0.3}


def _fill(client, make_key, store, rid: str) -> None:  # type: ignore[no-untyped-def]
    """One message per SENT category, in order, each titled with its place and category."""
    key = make_key()
    for i, category in enumerate(SENT):
        into_inbox(store, send(client, key, [rid], category, content={"default": {
            "title": f"{i} {category}", "body": "."}}))


def _titles(client, headers, limit: int = 50, **params: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every item's title, page after page."""
    titles, cursor = [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/inbox", headers=headers, params=query)
        assert r.status_code == 200, r.text
        titles += [i["title"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return titles


def _learned(store, rid: str, interests: dict | None) -> None:  # type: ignore[no-untyped-def]
    engagement.put_profiles(store, [{"recipient_id": rid, "channel_order": None,
                                     "usual_hour": None, "interests": interests,
                                     "events": 40}])


NEWEST = ["7 library", "6 exams", "5 campus", "4 safety", "3 research", "2 campus",
          "1 library", "0 safety"]
FOR_YOU = ["4 safety", "0 safety", "7 library", "1 library", "3 research", "5 campus",
           "2 campus", "6 exams"]


def test_for_you_puts_critical_first_then_interest_then_newest(client, campus, make_key, store,
                                                                api_settings):
    campus(10)
    _fill(client, make_key, store, "S000001")
    _learned(store, "S000001", INTERESTS)
    me = reader(api_settings, "S000001")
    assert _titles(client, me) == NEWEST
    assert _titles(client, me, order="newest") == NEWEST
    assert _titles(client, me, order="for_you") == FOR_YOU
    for limit in (1, 3):  # the same order, page by page
        assert _titles(client, me, limit, order="for_you") == FOR_YOU
    page = client.get("/v1/inbox", headers=me, params={"order": "for_you", "limit": 3}).json()
    assert page["unread"] == len(SENT) and page["next_cursor"] is not None


def test_without_learned_interests_critical_still_comes_first_and_opting_out_keeps_newest(
        client, campus, make_key, store, api_settings):
    campus(10)
    _fill(client, make_key, store, "S000002")
    me = reader(api_settings, "S000002")
    assert _titles(client, me, order="for_you") == ["4 safety", "0 safety"] + [
        t for t in NEWEST if "safety" not in t]
    _learned(store, "S000002", INTERESTS)
    r = client.put("/v1/inbox/preferences", headers=me, json={"profiling": False})
    assert r.status_code == 200, r.text
    assert _titles(client, me, order="for_you") == NEWEST
    assert _titles(client, me, 3, order="for_you") == NEWEST


def test_an_unknown_order_or_a_cursor_not_ours_is_refused_naming_the_field(
        client, campus, make_key, store, api_settings):
    campus(10)
    _fill(client, make_key, store, "S000001")
    me = reader(api_settings, "S000001")
    for params, field in (({"order": "popular"}, "order"), ({"order": ""}, "order"),
                          ({"cursor": "abc"}, "cursor"),
                          ({"cursor": "9999999999999999999"}, "cursor"),
                          ({"order": "for_you", "cursor": "12"}, "cursor"),
                          ({"order": "for_you", "cursor": "9999999999999999999.1"}, "cursor")):
        r = client.get("/v1/inbox", headers=me, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["field"] == field, r.text
