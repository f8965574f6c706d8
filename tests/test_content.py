"""Content: variant choice, field mapping per channel kind, sandboxing, caching, storage."""

from __future__ import annotations

import pytest

from clarion.content import (ContentError, compile_content, load_template, save_template)
from clarion.domain import Variant
from clarion.store.db import Store

ANN = {"id": "s1", "name": "Ann <Lee>", "department": "CS", "grade": "2024", "roles": ["student"]}
VARIANTS = {
    "default": {"title": "{{ course }} moved", "body": "Dear {{ recipient.name }}, room {{ room }}",
                "url": "https://campus/c/{{ course }}"},
    "email": {"subject": "[{{ course }}] for {{ recipient.name }}",
              "text": "Hi {{ recipient.name }}", "html": "<p>Hi {{ recipient.name }}</p>"},
}
VARIABLES = {"course": "CS101", "room": "B-204"}


def render(variants, channel, recipient=ANN, variables=VARIABLES, kinds=None):
    compiled = compile_content(variants, [channel], kinds)
    return compiled.render(channel, recipient, variables)


def error_of(variants, channels, variables=VARIABLES, recipient=ANN) -> ContentError:
    with pytest.raises(ContentError) as info:
        compile_content(variants, channels).check(variables, recipient)
    return info.value


# --- variants and fields ----------------------------------------------------------------------

def test_email_uses_its_own_variant_and_escapes_only_html():
    assert render(VARIANTS, "email") == {"subject": "[CS101] for Ann <Lee>", "text": "Hi Ann <Lee>",
                                         "html": "<p>Hi Ann &lt;Lee&gt;</p>"}


def test_inbox_falls_back_to_default_variant():
    assert render(VARIANTS, "inbox") == {"title": "CS101 moved",
                                         "body": "Dear Ann <Lee>, room B-204",
                                         "url": "https://campus/c/CS101"}


def test_sms_kinds_send_text_from_body():
    expected = {"text": "Dear Ann <Lee>, room B-204"}
    assert render(VARIANTS, "sms") == expected
    assert render(VARIANTS, "campus_sms", kinds={"campus_sms": "tencent_sms"}) == expected


def test_email_takes_subject_from_title_when_no_subject():
    out = render({"default": {"title": "T {{ course }}", "body": "B"}}, "email")
    assert out == {"subject": "T CS101", "text": "B"}


def test_inbox_takes_title_from_subject_and_body_from_text():
    out = render({"default": {"subject": "S", "text": "X"}}, "inbox")
    assert out == {"title": "S", "body": "X"}


def test_domain_variant_objects_are_accepted():
    out = render({"default": Variant(title="T", body="B {{ room }}")}, "webhook")
    assert out == {"title": "T", "body": "B B-204"}


def test_none_renders_as_empty_text():
    out = render({"default": {"title": "t", "body": "[{{ recipient.department }}]"}}, "inbox",
                 recipient={**ANN, "department": None})
    assert out["body"] == "[]"


def test_channel_without_variant_is_named():
    with pytest.raises(ContentError) as info:
        compile_content({"email": VARIANTS["email"]}, ["email", "wecom"])
    assert info.value.field == "content.wecom"
    assert "no variant" in str(info.value)


def test_missing_required_field_is_named():
    with pytest.raises(ContentError) as info:
        compile_content({"default": {"body": "only a body"}}, ["email"])
    assert info.value.field == "content.default.subject"


def test_unknown_field_is_named():
    with pytest.raises(ContentError) as info:
        compile_content({"default": {"title": "t", "body": "b", "titel": "x"}}, ["inbox"])
    assert info.value.field == "content.default.titel"


def test_syntax_error_names_the_field():
    broken = {**VARIANTS, "email": {**VARIANTS["email"], "subject": "{{ course "}}
    with pytest.raises(ContentError) as info:
        compile_content(broken, ["email"])
    assert info.value.field == "content.email.subject"
    assert "content.email.subject" in str(info.value) and "syntax error" in str(info.value)


# --- the sandbox ------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ ''['__class__'] }}",
    "{{ recipient | attr('__class__') }}",
    "{{ recipient.roles.append('admin') }}",
    "{{ lipsum.__globals__['os'] }}",
])
def test_reaching_python_internals_is_a_content_error(source):
    with pytest.raises(ContentError) as info:
        compiled = compile_content({"default": {"title": "t", "body": source}}, ["inbox"])
        compiled.check(VARIABLES, ANN)
    assert info.value.field == "content.default.body"


def test_runtime_failures_name_the_field():
    error = error_of({"default": {"title": "{{ 1 / 0 }}", "body": "b"}}, ["inbox"])
    assert error.field == "content.default.title" and "ZeroDivisionError" in error.message


# --- check ------------------------------------------------------------------------------------

def test_check_names_a_missing_variable():
    error = error_of(VARIANTS, ["email", "inbox"], variables={"course": "CS101"})
    assert error.field == "variables.room"


def test_check_names_a_missing_recipient_attribute():
    variants = {"default": {"title": "t", "body": "No. {{ recipient.student_no }}"}}
    assert error_of(variants, ["inbox"]).field == "recipient.student_no"


def test_check_names_a_missing_member_of_a_variable():
    variants = {"default": {"title": "{{ course.code }}", "body": "b"}}
    assert error_of(variants, ["inbox"], variables={"course": {}}).field == "variables.code"


def test_optional_variables_may_use_default_or_is_defined():
    variants = {"default": {"title": "{{ room | default('TBA') }}",
                            "body": "{% if note is defined %}{{ note }}{% endif %}ok"}}
    compiled = compile_content(variants, ["inbox"])
    compiled.check({}, ANN)
    assert compiled.render("inbox", ANN, {}) == {"title": "TBA", "body": "ok"}


def test_check_without_sample_uses_a_stand_in():
    compile_content(VARIANTS, ["email", "inbox", "sms"]).check(VARIABLES, None)


def test_recipient_is_a_reserved_variable():
    with pytest.raises(ContentError) as info:
        compile_content(VARIANTS, ["inbox"]).check({**VARIABLES, "recipient": "x"}, ANN)
    assert info.value.field == "variables.recipient"


# --- rendering once what is shared -----------------------------------------------------------

class CountingValue:
    """A variable that counts how often a template prints it."""

    def __init__(self) -> None:
        self.renders = 0

    def __str__(self) -> str:
        self.renders += 1
        return "X"


def test_shared_fields_render_once_per_campaign():
    course = CountingValue()
    variables = {"course": course, "room": "B-204"}
    compiled = compile_content({"default": {"title": "{{ course }}", "body": "room {{ room }}"}},
                               ["inbox", "webhook"])
    assert not compiled.is_personal("inbox")
    for i in range(100):
        for channel in ("inbox", "webhook"):
            assert compiled.render(channel, {**ANN, "id": f"s{i}"}, variables)["title"] == "X"
    assert course.renders == 1


def test_personal_fields_render_per_recipient_and_shared_ones_once():
    course = CountingValue()
    variables = {"course": course}
    compiled = compile_content({"default": {"title": "{{ course }}",
                                            "body": "Hi {{ recipient.name }}"}}, ["inbox"])
    bound = compiled.bind(variables)
    names = [bound.render("inbox", {"name": n})["body"] for n in ("A", "B", "C")]
    assert names == ["Hi A", "Hi B", "Hi C"]
    assert course.renders == 1 and compiled.is_personal("inbox")


def test_new_variables_object_renders_afresh():
    compiled = compile_content({"default": {"title": "{{ course }}", "body": "b"}}, ["inbox"])
    assert compiled.render("inbox", ANN, {"course": "A"})["title"] == "A"
    assert compiled.render("inbox", ANN, {"course": "B"})["title"] == "B"


def test_rendering_an_uncompiled_channel_is_an_error():
    compiled = compile_content(VARIANTS, ["inbox"])
    with pytest.raises(ContentError) as info:
        compiled.render("email", ANN, VARIABLES)
    assert info.value.field == "content.email"


# --- stored templates -------------------------------------------------------------------------

@pytest.fixture
def store(db_url) -> Store:
    return Store(db_url)


def test_templates_are_saved_loaded_and_replaced(store):
    save_template(store, "room-change", VARIANTS)
    assert load_template(store, "room-change") == VARIANTS
    save_template(store, "room-change", {"default": {"title": "new", "body": "b", "url": None}})
    assert load_template(store, "room-change") == {"default": {"title": "new", "body": "b"}}


def test_unknown_template_is_a_content_error(store):
    with pytest.raises(ContentError) as info:
        load_template(store, "nope")
    assert info.value.field == "template" and "unknown template 'nope'" in str(info.value)


def test_a_template_with_a_syntax_error_is_not_saved(store):
    with pytest.raises(ContentError) as info:
        save_template(store, "broken", {"sms": {"text": "{% if %}"}})
    assert info.value.field == "content.sms.text"
    with pytest.raises(ContentError):
        load_template(store, "broken")


def test_a_field_that_is_not_text_is_named():
    with pytest.raises(ContentError) as info:
        compile_content({"default": {"title": 42, "body": "b"}}, ["inbox"])
    assert info.value.field == "content.default.title"


# --- bounded work: template bombs are refused, quickly, naming the field ------------------------

BOMBS = [
    "{{ 3**10000000 > 0 }}",  # Jinja would fold it while compiling
    "{{ 'x' * 10**9 }}",
    "{{ (10**3000) * (10**3000) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ recipient.name }}{% endfor %}"
    "{% endfor %}",
    "{{ range(10**8)|list }}",
    "{% set ns = namespace(s='x' * 100000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}"
    "{% endmacro %}{{ d('x', 40) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ '%1000000000d' % 1 }}",
    "{{ '%1000000000d'|format(1) }}",
    "{{ ('x' * 100000)|replace('', 'y' * 1000) }}",
    "{{ ('x' * 100000).join(['a'] * 100000) }}",
    "{{ range(100000)|map('string')|join('x' * 100000) }}",
    "{{ [1]|batch(1000000000, 'x')|list }}",
    "{{ lipsum(1000000) }}",
]


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_template_bomb_is_refused_naming_the_field(bomb):
    with pytest.raises(ContentError) as info:
        compile_content({"default": {"title": "t", "body": bomb}}, ["inbox"]).check({}, ANN)
    assert info.value.field == "content.default.body"


def test_a_bomb_in_one_recipient_is_refused_when_that_recipient_renders():
    body = ("{% if recipient.id == 's9' %}{% for i in range(100000) %}{% for j in range(100000) %}"
            "{% endfor %}{% endfor %}{% endif %}ok")
    compiled = compile_content({"default": {"title": "t", "body": body}}, ["inbox"])
    assert compiled.render("inbox", ANN, {})["body"] == "ok"
    with pytest.raises(ContentError) as info:
        compiled.render("inbox", {**ANN, "id": "s9"}, {})
    assert info.value.field == "content.default.body" and "steps" in info.value.message


def test_refusals_never_quote_a_value():
    secret = "13800138000"
    body = "{{ recipient.phone * 1000000 }}{{ recipient.phone|center(1000000000) }}"
    with pytest.raises(ContentError) as info:
        compile_content({"default": {"title": "t", "body": body}}, ["inbox"]).check(
            {}, {**ANN, "phone": secret})
    assert secret not in str(info.value)


@pytest.mark.parametrize("source, expected", [
    ("{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}{% if loop.last %}!{% endif %}"
     "{% endfor %}", "1/32/33/3!"),
    ("{{ 2 ** 100 }} {{ 7 // 2 }} {{ -3 }} {{ 'a' ~ 1 }} {{ [1] + [2] }}",
     "1267650600228229401496703205376 3 -3 a1 [1, 2]"),
    ("{{ 'ab'|center(6) }}|{{ ['a', 'b']|join(', ') }}|{{ 'a-b'|replace('-', '+') }}",
     "  ab  |a, b|a+b"),
    ("{{ '%05.1f'|format(3.14159) }} {{ '{:>4}'.format('x') }} {{ '%s!' % 'hi' }}",
     "003.1    x hi!"),
    ("{% for r in rows recursive %}{{ r.n }}{{ loop(r.kids) }}{% endfor %}", "123"),
])
def test_ordinary_templates_still_render(source, expected):
    rows = [{"n": 1, "kids": [{"n": 2, "kids": []}]}, {"n": 3, "kids": []}]
    out = render({"default": {"title": "t", "body": source}}, "inbox", variables={"rows": rows})
    assert out["body"] == expected


# --- output caps per channel kind ----------------------------------------------------------------

def refusal(variants, channel, kinds=None) -> ContentError:
    with pytest.raises(ContentError) as info:
        render(variants, channel, kinds=kinds)
    return info.value


def test_an_sms_is_held_to_ten_segments():
    bomb = {"sms": {"text": "{{ 'x' * 1000000 }}"}}
    error = refusal(bomb, "sms")
    assert error.field == "content.sms.text" and "SMS" in error.message
    campus = {"default": {"title": "t", "body": "{{ 'x' * 1000000 }}"}}
    assert refusal(campus, "campus_sms", {"campus_sms": "aliyun_sms"}).field == \
        "content.default.body"
    assert "segments" in refusal({"sms": {"text": "{{ '你' * 671 }}"}}, "sms").message
    assert render({"sms": {"text": "{{ '你' * 670 }}"}}, "sms")["text"] == "你" * 670


def test_email_inbox_and_push_fields_have_their_caps():
    assert refusal({"email": {"subject": "{{ 's' * 999 }}", "text": "b"}}, "email").field == \
        "content.email.subject"
    assert refusal({"email": {"subject": "s", "text": "t", "html": "{{ 'x' * 1000001 }}"}},
                   "email").field == "content.email.html"
    assert refusal({"default": {"title": "{{ 't' * 501 }}", "body": "b"}}, "inbox").field == \
        "content.default.title"
    push = {"default": {"title": "t", "body": "{{ '你' * 700 }}"}}  # 2,100 bytes in UTF-8
    assert "bytes" in refusal(push, "push", {"push": "webpush"}).message
    assert render(push, "inbox")["body"] == "你" * 700


def test_sms_segments_count_gsm_septets_and_ucs2_units():
    from clarion.content_limits import sms_segments
    assert [sms_segments("a" * n) for n in (0, 160, 161, 306, 307)] == [1, 1, 2, 2, 3]
    assert [sms_segments("€" * n) for n in (80, 81)] == [1, 2]  # two septets each
    assert [sms_segments("你" * n) for n in (70, 71, 134, 135)] == [1, 2, 2, 3]
    assert sms_segments("😀" * 35) == 1 and sms_segments("😀" * 36) == 2  # surrogate pairs


# --- links ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(document.cookie)",
                                 "data:text/html,<script>x</script>", "vbscript:x", "//evil",
                                 "file:///etc/passwd", " javascript:x", "https:nohost"])
def test_a_link_that_is_not_http_is_refused(url):
    error = refusal({"default": {"title": "t", "body": "b", "url": url}}, "inbox")
    assert error.field == "content.default.url" and "http" in error.message
    assert url.strip() not in error.message


def test_the_inbox_writes_no_link_that_is_not_http():
    from clarion.channels.base import OutboundMessage
    from clarion.channels.inbox import inbox_row
    row = lambda url: inbox_row(OutboundMessage("d1", "s1", {"title": "t", "body": "b",  # noqa
                                                            "url": url}, recipient_id="s1"))
    assert row("javascript:alert(1)")["url"] is None
    assert row("https://campus.example/x")["url"] == "https://campus.example/x"


def test_http_links_and_no_link_are_fine():
    for url in ("https://campus.example/c/1", "http://campus/x?y=1", "{{ '' }}"):
        render({"default": {"title": "t", "body": "b", "url": url}}, "inbox")
