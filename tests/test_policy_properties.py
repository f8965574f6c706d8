"""The policy stage as a function of (people, preferences, rule, time zones, clock, caps):
its invariants, over generated cases (hypothesis)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from clarion.domain import Priority
from clarion.planning.categories import CategorySettings, Digest
from clarion.planning.policy import DEFERRED, QUEUED, SKIPPED, Facts, Notice, Policy
from clarion.planning.quiet_hours import QuietHours, zone
from clarion.planning.routing import Route

CHANNELS = ("wecom", "sms", "email", "inbox")
FIELDS = {"wecom": "wecom_userid", "sms": "phone", "email": "email", "inbox": "id"}
ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kathmandu", "UTC")

times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
windows = st.tuples(times, times).filter(lambda w: w[0] != w[1]).map(
    lambda w: f"{w[0]:%H:%M}-{w[1]:%H:%M}")
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                       timezones=st.just(timezone.utc))


@st.composite
def categories(draw: st.DrawFn) -> CategorySettings:
    critical = draw(st.booleans())
    digest = draw(st.none() | st.builds(
        Digest, every=st.just("week"), weekday=st.sampled_from(("mon", "fri", "sun")),
        at=times.map(lambda t: f"{t:%H:%M}")))
    quiet = draw(st.none() | windows)
    if digest and quiet and QuietHours.parse(quiet).contains(time.fromisoformat(digest.at)):
        digest = None  # refused by the category's own check: a digest in its quiet hours
    return CategorySettings(
        name="c", critical=critical, opt_in=draw(st.booleans()) and not critical,
        quiet_hours=quiet, cap_per_day=draw(st.none() | st.integers(1, 4)),
        cap_per_week=draw(st.none() | st.integers(1, 10)),
        dedup_window_s=draw(st.none() | st.just(3600)), digest=digest,
        send_time=draw(st.booleans()) and not critical)


@st.composite
def people(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(1, 8))
    out = []
    for i in range(n):
        person = {"id": f"p{i}", "timezone": draw(st.none() | st.sampled_from(ZONES))}
        for field in ("wecom_userid", "phone", "email"):
            person[field] = draw(st.sampled_from((None, f"{field}-{i}")))
        out.append(person)
    return out


@st.composite
def cases(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    cat = draw(categories())
    channels = tuple(draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4,
                                   unique=True)))
    mode = draw(st.sampled_from(("first", "all", "fallback")))
    priority = draw(st.sampled_from(list(Priority)))
    route = Route(channels, "all" if priority is Priority.EMERGENCY else mode)
    notice = Notice(category=cat, priority=priority, route=route, content_hash="h",
                    address_fields=FIELDS, campaign_id="c1")
    folks = draw(people())
    ids = [p["id"] for p in folks]
    prefs = draw(st.dictionaries(st.tuples(st.sampled_from(ids),
                                           st.sampled_from((*CHANNELS, "*"))), st.booleans()))
    got = draw(st.dictionaries(st.sampled_from(ids), st.tuples(st.integers(0, 5),
                                                               st.integers(0, 12))))
    got = {k: (d, max(d, w)) for k, (d, w) in got.items()}
    dups = draw(st.sets(st.tuples(st.sampled_from(ids), st.sampled_from(CHANNELS))))
    profiles = draw(st.dictionaries(st.sampled_from(ids), st.fixed_dictionaries({
        "channel_order": st.permutations(CHANNELS), "usual_hour": st.none() | st.integers(0, 23)})))
    return notice, folks, Facts(prefs, got, dups, profiles), draw(moments)


def _choice(facts: Facts, rid: str, channel: str) -> bool | None:
    return facts.preferences.get((rid, channel), facts.preferences.get((rid, "*")))


def _decide(case):  # type: ignore[no-untyped-def]
    notice, folks, facts, now = case
    return notice, folks, facts, now, Policy(notice, now).decide_page(folks, facts)


@settings(max_examples=400, deadline=None)
@given(cases())
def test_an_emergency_is_never_held_back_except_for_want_of_an_address(case) -> None:
    notice, folks, _facts, _now, decided = _decide(case)
    if notice.priority is not Priority.EMERGENCY:
        return
    for person, decisions in zip(folks, decided):
        assert {d.channel for d in decisions} == set(notice.route.channels)
        for d in decisions:
            has_address = bool(person.get(FIELDS[d.channel]))
            assert (d.status == QUEUED) == has_address, d
            assert d.status != DEFERRED


@settings(max_examples=400, deadline=None)
@given(cases())
def test_nobody_gets_a_non_critical_category_they_opted_out_of(case) -> None:
    notice, folks, facts, _now, decided = _decide(case)
    if notice.priority is Priority.EMERGENCY or notice.category.critical:
        return
    for person, decisions in zip(folks, decided):
        for d in decisions:
            if d.status in (QUEUED, DEFERRED):
                choice = _choice(facts, person["id"], d.channel)
                assert choice is not False, d
                assert choice is True or not notice.category.opt_in, d
            for later in d.fallback:  # the fallback route obeys the same choices
                assert _choice(facts, person["id"], later) is not False


@settings(max_examples=400, deadline=None)
@given(cases())
def test_quiet_hours_hold_normal_notices_until_their_window_ends(case) -> None:
    notice, folks, _facts, now, decided = _decide(case)
    window = notice.category.window
    for person, decisions in zip(folks, decided):
        tz = zone(person["timezone"] or notice.default_timezone)
        quiet_now = window is not None and window.contains(now.astimezone(tz).time())
        for d in decisions:
            if d.code == "quiet_hours":
                assert notice.priority is Priority.NORMAL and quiet_now
                assert d.release_at > now
                assert not window.contains(d.release_at.astimezone(tz).time())
                assert window.contains((d.release_at - timedelta(minutes=1))
                                       .astimezone(tz).time())
            if d.status == QUEUED and notice.priority is Priority.NORMAL:
                assert not quiet_now and notice.category.digest is None
            if d.code == "digest":  # a digest is sent at its time: outside the quiet hours
                assert d.release_at > now and notice.priority is Priority.NORMAL
                assert window is None or not window.contains(d.release_at.astimezone(tz)
                                                              .time())


@settings(max_examples=400, deadline=None)
@given(cases())
def test_caps_and_duplicates_skip_only_what_they_should(case) -> None:
    notice, folks, facts, _now, decided = _decide(case)
    cat = notice.category
    for person, decisions in zip(folks, decided):
        day, week = facts.notices.get(person["id"], (0, 0))
        over = ((cat.cap_per_day is not None and day >= cat.cap_per_day)
                or (cat.cap_per_week is not None and week >= cat.cap_per_week))
        for d in decisions:
            if d.code == "capped":
                assert over and not cat.critical and notice.priority is not Priority.EMERGENCY
            if d.code == "duplicate":
                assert (person["id"], d.channel) in facts.duplicates
            if d.status in (QUEUED, DEFERRED) and not notice.unconditional:
                assert not over or cat.critical
                assert (person["id"], d.channel) not in facts.duplicates


@settings(max_examples=400, deadline=None)
@given(cases())
def test_first_and_fallback_send_one_channel_at_a_time(case) -> None:
    notice, folks, _facts, _now, decided = _decide(case)
    if notice.route.mode == "all":
        return
    for person, decisions in zip(folks, decided):
        going = [d for d in decisions if d.status != SKIPPED]
        assert len(decisions) == 1 and len(going) <= 1
        for d in going:
            assert d.channel not in d.fallback
            route = notice.route.channels
            assert all(route.index(c) > route.index(d.channel) for c in d.fallback)
            assert all(person.get(FIELDS[c]) for c in (d.channel, *d.fallback))
            if notice.route.mode == "first":
                assert d.fallback == ()


@settings(max_examples=300, deadline=None)
@given(window=windows, moment=moments, tz=st.sampled_from(ZONES))
def test_a_release_time_is_the_first_instant_outside_the_window(window, moment, tz) -> None:
    quiet = QuietHours.parse(window)
    z = zone(tz)
    release = quiet.release_after(moment, z)
    if release is None:
        assert not quiet.contains(moment.astimezone(z).time())
        return
    assert release > moment
    assert not quiet.contains(release.astimezone(z).time())
    step = moment
    while step + timedelta(minutes=30) < release:  # quiet all the way there
        step += timedelta(minutes=30)
        assert quiet.contains(step.astimezone(z).time()), (step, release)


@settings(max_examples=400, deadline=None)
@given(cases())
def test_predictions_never_hold_reorder_or_hide_what_is_critical(case) -> None:
    notice, folks, facts, now, decided = _decide(case)
    window = notice.category.window
    for person, decisions in zip(folks, decided):
        for d in decisions:
            if d.code == "send_time":
                assert not notice.category.critical and notice.priority is Priority.NORMAL
                assert notice.category.send_time
                tz = zone(person["timezone"] or notice.default_timezone)
                local = d.release_at.astimezone(tz)
                assert d.release_at > now and local.date() == now.astimezone(tz).date()
                assert local.hour == facts.profiles[person["id"]]["usual_hour"]
                assert window is None or not window.contains(local.time())
        if notice.category.critical or notice.unconditional:  # the rule's own order
            expected = Policy(notice, now).decide(person, Facts(facts.preferences,
                                                                facts.notices,
                                                                facts.duplicates))
            assert [(d.channel, d.status, d.code) for d in decisions] == \
                [(d.channel, d.status, d.code) for d in expected]


@settings(max_examples=400, deadline=None)
@given(cases(), st.booleans(), st.sets(st.integers(0, 7)))
def test_a_page_is_decided_as_each_of_its_people_would_be(case, policy_on, inactive) -> None:
    """decide_page's shortcut for notices only an address can stop (an emergency, or policy
    off with every channel of the route) decides exactly as ``decide`` does person by person."""
    notice, folks, facts, now = case
    notice = Notice(**{**notice.__dict__, "enabled": policy_on})
    folks = [{**p, "active": False} if i in inactive else p for i, p in enumerate(folks)]
    policy = Policy(notice, now)
    assert policy.decide_page(folks, facts) == [policy.decide(p, facts) for p in folks]
