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
