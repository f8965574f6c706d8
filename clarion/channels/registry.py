"""Which adapter serves which channel.

``ADAPTERS`` maps an adapter type to ``"module:Class"``, imported only when used (kombu's
alias map).  A logical channel ("email", "sms", "wecom" …) names an adapter type and its
options in the settings; the defaults below come from the simple ``CLARION_*`` variables.
Each adapter class offers ``from_options(options: dict, deps: ChannelDeps)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ..settings import Settings
from .base import Channel, ConfigurationError

ADAPTERS: dict[str, str] = {
    "email": "clarion.channels.email:EmailChannel",
    "sms_gateway": "clarion.channels.sms_gateway:SmsGatewayChannel",
    "inbox": "clarion.channels.inbox:InboxChannel",
    "webhook": "clarion.channels.webhook:WebhookChannel",
    "wecom_app": "clarion.channels.wecom_app:WecomAppChannel",
    "wecom_robot": "clarion.channels.wecom_robot:WecomRobotChannel",
    "wechat_template": "clarion.channels.wechat_template:WechatTemplateChannel",
    "dingtalk": "clarion.channels.dingtalk:DingtalkChannel",
    "feishu": "clarion.channels.feishu:FeishuChannel",
    "aliyun_sms": "clarion.channels.aliyun_sms:AliyunSmsChannel",
    "tencent_sms": "clarion.channels.tencent_sms:TencentSmsChannel",
    "webpush": "clarion.channels.webpush:WebPushChannel",
    "fcm": "clarion.channels.fcm:FcmChannel",
    "apprise": "clarion.channels.apprise_channel:AppriseChannel",
}

# which recipient field a logical channel's address comes from, by adapter type
ADDRESS_FIELDS: dict[str, str] = {
    "email": "email",
    "sms_gateway": "phone",
    "aliyun_sms": "phone",
    "tencent_sms": "phone",
    "inbox": "id",
    "webhook": "id",
    "wecom_app": "wecom_userid",
    "wecom_robot": "id",
    "dingtalk": "id",
    "feishu": "id",
    "wechat_template": "wechat_openid",
    "webpush": "webpush_subscription",
    "fcm": "fcm_token",
    "apprise": "id",
}


@dataclass
class ChannelDeps:
    """What a worker hands to adapters that need more than their options."""

    extra: dict[str, Any] = field(default_factory=dict)


def channel_specs(settings: Settings) -> dict[str, dict[str, Any]]:
    """Logical channel name -> options (with "type"), defaults first, configured on top."""
    specs: dict[str, dict[str, Any]] = {
        "inbox": {"type": "inbox"},
        "email": {
            "type": "email",
            "url": settings.smtp_url.get_secret_value() if settings.smtp_url else None,
            "starttls": settings.smtp_starttls,
            "sender": settings.mail_from,
            "message_id_domain": settings.message_id_domain,
        },
        "sms": {
            "type": "sms_gateway",
            "url": settings.sms_gateway_url,
            "token": settings.sms_gateway_token.get_secret_value()
            if settings.sms_gateway_token else None,
        },
        "webhook": {
            "type": "webhook",
            "url": settings.webhook_url,
            "secret": settings.webhook_secret.get_secret_value()
            if settings.webhook_secret else None,
        },
    }
    specs.update(settings.channels)
    return specs


def known_channels(settings: Settings) -> set[str]:
    return set(channel_specs(settings))


def address_field(settings: Settings, channel: str) -> str:
    spec = channel_specs(settings).get(channel)
    if spec is None:
        raise ConfigurationError(f"unknown channel {channel!r}")
    return _address_field(spec)


def adapter_class(adapter_type: str) -> type:
    target = ADAPTERS.get(adapter_type)
    if target is None:
        raise ConfigurationError(f"unknown adapter type {adapter_type!r}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


# spec keys read by Clarion itself, never handed to the adapter
CHANNEL_KEYS = ("type", "address_field", "fallback", "rate_limit", "per_recipient_limit")


def build_channel(settings: Settings, channel: str, deps: ChannelDeps | None = None) -> Channel:
    """The channel's adapter; with ``"fallback": "<other channel>"`` in its spec, both
    wrapped in a :class:`~clarion.channels.failover.FailoverChannel` (chains allowed, cycles
    refused)."""
    return _build(channel_specs(settings), channel, deps or ChannelDeps(), ())


def _build(specs: dict[str, dict[str, Any]], channel: str, deps: ChannelDeps,
           chain: tuple[str, ...]) -> Channel:
    spec = specs.get(channel)
    if spec is None:
        raise ConfigurationError(f"channel {chain[-1]!r}: fallback: unknown channel {channel!r}"
                                 if chain else f"unknown channel {channel!r}")
    if channel in chain:
        raise ConfigurationError(f"channel {chain[0]!r}: fallback: cycle "
                                 f"{' -> '.join((*chain, channel))}")
    options = {k: v for k, v in spec.items() if k not in CHANNEL_KEYS}
    try:
        adapter = adapter_class(spec["type"]).from_options(options, deps)
    except ConfigurationError as exc:
        if not chain:
            raise
        raise ConfigurationError(f"channel {chain[-1]!r}: fallback {channel!r}: {exc.reason}",
                                 exc.code) from None
    fallback = spec.get("fallback")
    if not fallback:
        return adapter
    if fallback in specs and _address_field(specs[fallback]) != _address_field(spec):
        raise ConfigurationError(f"channel {channel!r}: fallback: {fallback!r} takes "
                                 f"{_address_field(specs[fallback])} addresses, not "
                                 f"{_address_field(spec)}")
    from .failover import FailoverChannel
    return FailoverChannel(adapter, _build(specs, fallback, deps, (*chain, channel)), fallback)


def _address_field(spec: dict[str, Any]) -> str:
    return spec.get("address_field") or ADDRESS_FIELDS.get(spec["type"], "id")
