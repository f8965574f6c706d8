"""A campaign's content as typed variants, one shape per kind of channel.

The JSON is what it always was — ``{"default": {"title", "body"}, "email": {"subject",
"text", "html"}, "sms": {"text"}, …}`` — but each variant names only the fields its channel
sends, so a form shows fields to fill instead of a JSON editor, and a field that the channel
would never send is refused naming it.  A variant for a channel the site adds itself
(``sms_aliyun``, ``office_bot``) takes any of the fields; its channel's kind decides which are
used (``clarion.content``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

TEXT, LONG, HTML, URL = 20_000, 20_000, 200_000, 2_000


class _Fields(BaseModel):
    """Each field is a Jinja2 template source; an empty or None field is the same as a
    missing one (campaigns stored before the variants were typed carry every field, most
    of them None)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class MessageVariant(_Fields):
    """The default, and what the inbox, WeCom, push, chat robots and webhooks send."""

    model_config = ConfigDict(title="title, body, link")

    title: str = Field("", max_length=500, description="a short title")
    body: str = Field("", max_length=LONG, description="the message")
    url: str = Field("", max_length=URL, description="a link to open (optional)")


class EmailVariant(_Fields):
    model_config = ConfigDict(title="subject, text, HTML")

    subject: str = Field("", max_length=500)
    text: str = Field("", max_length=LONG, description="the plain-text body")
    html: str = Field("", max_length=HTML, description="the HTML body (optional)")


class SmsVariant(_Fields):
    model_config = ConfigDict(title="text")

    text: str = Field("", max_length=TEXT, description="the text message")


class Variant(_Fields):
    """Any field: a variant for a channel of the site's own."""

    title: str | None = Field(None, max_length=500)
    body: str | None = Field(None, max_length=LONG)
    subject: str | None = Field(None, max_length=500)
    text: str | None = Field(None, max_length=LONG)
    html: str | None = Field(None, max_length=HTML)
    url: str | None = Field(None, max_length=URL)


class Content(BaseModel):
    """Variants by channel name; ``default`` serves every channel without its own."""

    model_config = ConfigDict(extra="allow")

    default: MessageVariant | None = Field(None, description="for every channel without "
                                                             "a variant of its own")
    email: EmailVariant | None = None
    sms: SmsVariant | None = None
    inbox: MessageVariant | None = None
    wecom: MessageVariant | None = None

    @model_validator(mode="after")
    def _other_channels(self) -> Content:
        extra = self.__pydantic_extra__ or {}
        for name, value in list(extra.items()):
            extra[name] = None if value is None else Variant.model_validate(value)
        if not self.variants():
            raise ValueError("content has no variant: give at least a default "
                             "{title, body}")
        return self

    def variants(self) -> dict[str, dict[str, str]]:
        """channel → {field: template source}, only what is given."""
        out = {}
        for name in [*type(self).model_fields, *(self.__pydantic_extra__ or {})]:
            value = getattr(self, name)
            if value is not None:
                out[name] = {k: v for k, v in value.model_dump().items() if v}
        return out
