"""Message content: Jinja2 variants compiled once per campaign, rendered per recipient.

A campaign's content is a set of *variants* ("default", "email", "sms" …), each a mapping of
fields (title, body, subject, text, html, url) to Jinja2 sources.  ``compile_content`` picks a
variant per channel, maps its fields onto what the channel's kind sends, parses every template
once and notes which fields mention ``recipient``.

Rendering is bound to one campaign's variables: ``CompiledContent.bind(variables)`` renders
every field that does not mention ``recipient`` once and keeps the result; ``render`` on the
binding renders only the personal fields.  ``CompiledContent.render(channel, recipient,
variables)`` does the same through a binding cached on the identity of ``variables`` — treat
the variables as frozen once rendering starts.

Templates run in a bounded version of Jinja2's immutable sandbox (``template_sandbox``: no huge
operands, sized calls or ranges, and a step and time budget per render) with
``StrictUndefined``; only the ``html`` field is autoescaped.  ``None`` renders as an empty
string.  Each rendered field is held to its channel kind's rule (``content_limits``: SMS
segments, email and inbox sizes, http(s) links only).  Every failure is a ``ContentError``
naming the field ("content.email.subject", "variables.room", "recipient.student_no").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.environment import Template as JinjaTemplate
from jinja2.sandbox import SecurityError

from .content_limits import SMS_KINDS, FieldRule, rules_for
from .store.db import Store
from .store.models import Template
from .template_sandbox import MAX_LENGTH, BoundedSandbox, budget

FIELDS = ("title", "body", "subject", "text", "html", "url")

# output field -> (source fields in order of preference, required)
EMAIL_SHAPE = {"subject": (("subject", "title"), True), "text": (("text", "body"), True),
               "html": (("html",), False)}
SMS_SHAPE = {"text": (("text", "body"), True)}
MESSAGE_SHAPE = {"title": (("title", "subject"), True), "body": (("body", "text"), True),
                 "url": (("url",), False)}

SAMPLE_RECIPIENT: dict[str, Any] = {
    "id": "sample", "name": "Sample Recipient", "department": None, "grade": None,
    "locale": None, "email": None, "phone": None, "wecom_userid": None,
    "wechat_openid": None, "roles": [],
}

_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_MISSING_MEMBER = re.compile(r"has no (?:attribute|element) '?([^']*)'?$")


class ContentError(ValueError):
    """Bad content: ``field`` says where, ``message`` says what."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def _environment(autoescape: bool) -> BoundedSandbox:
    return BoundedSandbox(undefined=StrictUndefined, autoescape=autoescape,
                          finalize=_blank_none)


_TEXT_ENV = _environment(autoescape=False)
_HTML_ENV = _environment(autoescape=True)


@dataclass(frozen=True)
class CompiledField:
    output: str  # the field the channel sends: "subject"
    source: str  # where it came from: "content.email.subject"
    template: JinjaTemplate
    personal: bool  # mentions ``recipient``: rendered per recipient
    rule: FieldRule | None = None  # what the channel kind lets it carry


# --- compiling --------------------------------------------------------------------------------

def _unsafe_name(ast: nodes.Template) -> str | None:
    """The first private attribute a template reaches for, caught before the sandbox must."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            return name
    return None


@lru_cache(maxsize=1024)
def compile_source(source: str, where: str, *, html: bool = False) -> tuple[JinjaTemplate, bool]:
    """Parse one template; return it and whether it mentions ``recipient``.  Compiled
    templates are immutable, so the same source (a system sending the same message text with
    other variables, request after request) is compiled once per process."""
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise ContentError(where, f"syntax error on line {exc.lineno}: {exc.message}") from exc
    unsafe = _unsafe_name(ast)
    if unsafe is not None:
        raise ContentError(where, f"access to private attribute {unsafe!r} is not allowed")
    template = env.from_string(ast)
    template.globals = dict(template.globals)  # a plain dict: each render copies it, faster
    return template, "recipient" in meta.find_undeclared_variables(ast)


def _variant_fields(variant: Any, where: str) -> dict[str, str]:
    if hasattr(variant, "model_dump"):  # a clarion.domain.Variant
        variant = variant.model_dump()
    if not isinstance(variant, Mapping):
        raise ContentError(where, "a variant must be a mapping of fields")
    unknown = sorted(set(variant) - set(FIELDS))
    if unknown:
        raise ContentError(f"{where}.{unknown[0]}",
                           f"unknown field; use one of {', '.join(FIELDS)}")
    present = {k: v for k, v in variant.items() if v not in (None, "")}
    wrong = next((k for k, v in present.items() if not isinstance(v, str)), None)
    if wrong is not None:
        raise ContentError(f"{where}.{wrong}", "a field is template text")
    return present


def normalise_variants(variants: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Variants as plain dicts of present fields; unknown fields are a ContentError."""
    return {str(name): _variant_fields(v, f"content.{name}") for name, v in variants.items()}


def shape_for(kind: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    if kind == "email":
        return EMAIL_SHAPE
    return SMS_SHAPE if kind in SMS_KINDS else MESSAGE_SHAPE


class _Compiler:
    """Compiles each (variant, field) once, however many channels share it."""

    def __init__(self, variants: dict[str, dict[str, str]]):
        self.variants = variants
        self._done: dict[str, tuple[JinjaTemplate, bool]] = {}

    def variant_for(self, channel: str) -> str:
        for name in (channel, "default"):
            if name in self.variants:
                return name
        raise ContentError(f"content.{channel}", f"no variant for channel {channel!r} "
                                                 "and no 'default' variant")

    def field(self, variant: str, source_field: str, output: str,
              rule: FieldRule | None = None) -> CompiledField:
        where = f"content.{variant}.{source_field}"
        if where not in self._done:
            source = self.variants[variant][source_field]
            self._done[where] = compile_source(source, where, html=source_field == "html")
        template, personal = self._done[where]
        return CompiledField(output, where, template, personal, rule)

    def channel(self, channel: str, kind: str) -> tuple[CompiledField, ...]:
        variant = self.variant_for(channel)
        present, rules = self.variants[variant], rules_for(kind)
        fields = []
        for output, (sources, required) in shape_for(kind).items():
            source = next((s for s in sources if s in present), None)
            if source is not None:
                fields.append(self.field(variant, source, output, rules.get(output)))
            elif required:
                raise ContentError(f"content.{variant}.{output}",
                                   f"channel {channel!r} needs {' or '.join(sources)}")
        return tuple(fields)


def compile_content(variants: Mapping[str, Any], channels: Sequence[str],
                    kinds: Mapping[str, str] | None = None) -> CompiledContent:
    """Compile the variants each channel uses; ``kinds`` maps channel -> adapter type."""
    compiler = _Compiler(normalise_variants(variants))
    kinds = kinds or {}
    compiled = {ch: compiler.channel(ch, kinds.get(ch, ch)) for ch in channels}
    return CompiledContent(compiled)


def validate_variants(variants: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Parse every field of every variant; return the normalised variants."""
    normal = normalise_variants(variants)
    compiler = _Compiler(normal)
    for name, fields in normal.items():
        for field_name in fields:
            compiler.field(name, field_name, field_name)
    return normal


# --- rendering --------------------------------------------------------------------------------

def _undefined_error(field: CompiledField, exc: UndefinedError,
                     recipient: Mapping[str, Any]) -> ContentError:
    text = str(exc)
    name = _UNDEFINED_NAME.match(text)
    if name:
        return ContentError(f"variables.{name[1]}", f"{field.source} uses {name[1]!r}, "
                                                    "which is not among the variables")
    member = _MISSING_MEMBER.search(text)
    if member is None:
        return ContentError(field.source, text)
    on_recipient = field.personal and member[1] not in recipient
    scope = "recipient" if on_recipient else "variables"
    return ContentError(f"{scope}.{member[1]}", f"{field.source}: {text}")


def _generate(field: CompiledField, context: Mapping[str, Any]) -> str:
    """The field's text, stopped as soon as it is longer than its rule could allow."""
    limit = field.rule.max_chars if field.rule is not None else MAX_LENGTH
    parts, size = [], 0
    for chunk in field.template.generate(context):
        size += len(chunk)
        if size > limit:
            carries = (field.rule.capacity() if field.rule is not None
                       else f"a field carries at most {limit:,} characters")
            raise ContentError(field.source, f"renders to more than {limit:,} characters; "
                                             f"{carries}")
        parts.append(chunk)
    return "".join(parts)


def render_field(field: CompiledField, context: Mapping[str, Any]) -> str:
    """Render one field within the sandbox's work budget, held to the field's rule."""
    try:
        with budget():
            text = _generate(field, context)
    except ContentError:
        raise
    except UndefinedError as exc:
        raise _undefined_error(field, exc, context.get("recipient") or {}) from exc
    except SecurityError as exc:
        raise ContentError(field.source, f"unsafe template: {exc}") from exc
    except Exception as exc:  # a user's template may raise anything (1/0, "a" + 1 …)
        raise ContentError(field.source, f"{type(exc).__name__}: {exc}") from exc
    refusal = field.rule.refusal(text) if field.rule is not None else None
    if refusal is not None:
        raise ContentError(field.source, refusal)
    return text


class BoundContent:
    """Compiled content bound to one campaign's variables: shared fields are rendered once."""

    def __init__(self, channels: Mapping[str, tuple[CompiledField, ...]],
                 variables: Mapping[str, Any]):
        if "recipient" in variables:
            raise ContentError("variables.recipient", "'recipient' is reserved for the recipient")
        self.variables = variables
        by_source: dict[str, str] = {}  # a variant's field shared by channels renders once
        self._shared = {ch: self._render_shared(fields, by_source)
                        for ch, fields in channels.items()}
        self._personal = {ch: tuple(f for f in fields if f.personal)
                          for ch, fields in channels.items()}

    def _render_shared(self, fields: tuple[CompiledField, ...],
                       by_source: dict[str, str]) -> dict[str, str]:
        for f in fields:
            if not f.personal and f.source not in by_source:
                by_source[f.source] = render_field(f, self.variables)
        return {f.output: by_source[f.source] for f in fields if not f.personal}

    def render(self, channel: str, recipient: Mapping[str, Any]) -> dict[str, str]:
        shared = self._shared.get(channel)
        if shared is None:
            raise ContentError(f"content.{channel}", "channel was not compiled")
        personal = self._personal[channel]
        if not personal:
            return dict(shared)
        context = {**self.variables, "recipient": recipient}
        return {**shared, **{f.output: render_field(f, context) for f in personal}}


class CompiledContent:
    """Per channel, the compiled fields it sends.  See the module docstring for caching."""

    def __init__(self, channels: Mapping[str, tuple[CompiledField, ...]]):
        self.channels = dict(channels)
        self._bound: BoundContent | None = None

    def is_personal(self, channel: str) -> bool:
        return any(f.personal for f in self.channels.get(channel, ()))

    def bind(self, variables: Mapping[str, Any]) -> BoundContent:
        return BoundContent(self.channels, variables)

    def _binding(self, variables: Mapping[str, Any]) -> BoundContent:
        bound = self._bound
        if bound is None or bound.variables is not variables:
            bound = self._bound = self.bind(variables)
        return bound

    def render(self, channel: str, recipient: Mapping[str, Any],
               variables: Mapping[str, Any]) -> dict[str, str]:
        return self._binding(variables).render(channel, recipient)

    def check(self, variables: Mapping[str, Any],
              sample_recipient: Mapping[str, Any] | None = None) -> None:
        """Render every channel once so that missing variables fail before any delivery."""
        recipient = sample_recipient if sample_recipient is not None else SAMPLE_RECIPIENT
        bound = self._binding(variables)
        for channel in self.channels:
            bound.render(channel, recipient)


# --- stored templates -------------------------------------------------------------------------

def save_template(store: Store, name: str, variants: Mapping[str, Any]) -> None:
    """Create or replace a named template after checking that every field parses."""
    if not name or len(name) > 120:
        raise ContentError("template", "a template name has 1 to 120 characters")
    normal = validate_variants(variants)
    with store.session() as session:
        session.merge(Template(name=name, variants=normal))


def load_template(store: Store, name: str) -> dict[str, dict[str, str]]:
    with store.session() as session:
        row = session.get(Template, name)
        if row is None:
            raise ContentError("template", f"unknown template {name!r}")
        return dict(row.variants)
