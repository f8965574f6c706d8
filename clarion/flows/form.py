"""The broadcast flow's parameter as Prefect renders it: a form with the site's choices.

``CampaignForm`` is a CampaignRequest (the same JSON, the same checks) whose JSON schema —
generated when ``prefect deploy`` or ``clarion serve`` registers the deployment, in that
environment — lists the site's channels (``channel_specs``) and categories (the
``categories`` table) as choices, and gives each configured channel a content variant of its
kind's fields.  Prefect's server checks new runs against that schema, so a bad value is
refused in the form (and through Prefect's API) before a run exists; what only the database
can tell (a category added since) is refused by the flow, naming the field.  Choices added
later appear after the next ``prefect deploy`` or a restart of ``clarion serve``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import model_validator

from clarion.domain import CampaignRequest
from clarion.variants import Content

log = logging.getLogger(__name__)
AUTO = "auto"


@dataclass
class SiteChoices:
    channels: dict[str, str]  # name → adapter type
    categories: list[str]


def site_choices() -> SiteChoices | None:
    """The deployer's site: its channels and categories (None if they cannot be read)."""
    from clarion.channels.registry import channel_specs
    from clarion.planning.config import list_categories
    from clarion.settings import get_settings
    from clarion.store.db import store_for
    try:
        settings = get_settings()
        channels = {name: spec["type"] for name, spec in channel_specs(settings).items()}
        categories = sorted(c.name for c in list_categories(store_for(settings.db_url)))
    except Exception as exc:  # noqa: BLE001 - a form without choices still works
        log.warning("the form lists no channels or categories: %s", exc)
        return None
    return SiteChoices(channels, categories)


def variant_model(kind: str) -> type:
    from clarion.content import SMS_KINDS
    from clarion.variants import EmailVariant, MessageVariant, SmsVariant
    if kind == "email":
        return EmailVariant
    return SmsVariant if kind in SMS_KINDS else MessageVariant


class FormContent(Content):
    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        site = site_choices()
        for name, kind in (site.channels if site else {}).items():
            variant = handler(variant_model(kind).__pydantic_core_schema__)
            target["properties"].setdefault(name, {
                "anyOf": [variant, {"type": "null"}], "default": None,
                "title": f"{name} ({kind})"})
        if site is not None:
            target["additionalProperties"] = False  # the form offers the site's channels
        target["title"] = "Text per channel"
        return schema


VARIABLE_PAIRS = {"type": "array", "title": "name and value", "items": {
    "type": "object", "title": "Variable", "required": ["name", "value"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "title": "Name", "pattern": r"^[A-Za-z_]\w*$"},
                   "value": {"type": "string", "title": "Value"}}}}


def pairs_to_dict(value: Any) -> Any:
    """The form's variables, a list of {name, value}, as the request's dict."""
    if isinstance(value, list) and all(isinstance(v, dict) and set(v) == {"name", "value"}
                                       for v in value):
        return {v["name"]: v["value"] for v in value}
    return value


class CampaignForm(CampaignRequest):
    content: FormContent | None = None  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _from_request(cls, data: Any) -> Any:
        """A CampaignRequest given as it is (the CLI and the tests call the flow directly);
        variables as the form's list of pairs."""
        if isinstance(data, CampaignRequest):
            return data.model_dump()
        if isinstance(data, dict) and "variables" in data:
            return {**data, "variables": pairs_to_dict(data["variables"])}
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        target["title"] = "Campaign"
        props = target["properties"]
        props["variables"] = {"title": "Variables", "default": [],
                              "description": "values the text uses, as {{ name }}",
                              "anyOf": [VARIABLE_PAIRS, {"type": "object", "title": "JSON"}]}
        site = site_choices()
        if site is not None:
            props["category"]["enum"] = [*site.categories, AUTO]
            for option in props["channels"]["anyOf"]:
                if option.get("type") == "array":
                    option.update(title="these channels", uniqueItems=True)
                    option["items"]["enum"] = sorted(site.channels)
                else:
                    option["title"] = "auto (the category's rule)"
        return schema
