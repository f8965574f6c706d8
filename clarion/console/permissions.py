"""The one permission table of Clarion's faces: what each role of staff may do in the
console, and which permission each route of the producer API stands for (an API key's
scopes and abilities are how a calling system holds it).

Every console route declares one of these permissions where it is defined (``pages.page``);
tests/console/test_permissions.py fails for a console or API route without one, and
generates one browser test per role × page from ``PAGES``.
"""

from __future__ import annotations

ROLES = ("admin", "operator", "sender", "approver", "viewer")
EVERYONE = frozenset(ROLES)
PUBLIC = "public"  # sign-in page, static files: no session needed
SIGNED_IN = "signed_in"  # sign-out, language: any role

PERMISSIONS: dict[str, frozenset[str]] = {
    "overview.view": EVERYONE,
    "campaigns.view": EVERYONE,
    "campaigns.cancel": frozenset({"admin", "operator"}),
    "campaigns.send": frozenset({"admin", "operator", "sender"}),
    "insights.view": frozenset({"admin", "operator", "sender", "viewer"}),
    "approvals.view": frozenset({"admin", "approver", "operator"}),
    "approvals.decide": frozenset({"admin", "approver"}),
    "deliveries.view": frozenset({"admin", "operator", "viewer"}),
    "directory.view": frozenset({"admin", "operator", "viewer"}),
    "directory.import": frozenset({"admin", "operator"}),
    "templates.view": frozenset({"admin", "operator", "sender", "viewer"}),
    "templates.edit": frozenset({"admin", "operator", "sender"}),
    "policy.view": frozenset({"admin", "operator", "viewer"}),
    "policy.edit": frozenset({"admin"}),
    "preferences.edit": frozenset({"admin", "operator"}),
    "access.view": frozenset({"admin"}),
    "access.edit": frozenset({"admin"}),
    "audit.view": frozenset({"admin"}),
    SIGNED_IN: EVERYONE,
    PUBLIC: EVERYONE,
}

# the main pages: (name, path, permission) — the navigation and the role × page tests
PAGES: tuple[tuple[str, str, str], ...] = (
    ("overview", "/console/", "overview.view"),
    ("campaigns", "/console/campaigns", "campaigns.view"),
    ("compose", "/console/compose", "campaigns.send"),
    ("insights", "/console/insights", "insights.view"),
    ("approvals", "/console/approvals", "approvals.view"),
    ("deliveries", "/console/deliveries", "deliveries.view"),
    ("directory", "/console/directory", "directory.view"),
    ("templates", "/console/templates", "templates.view"),
    ("rules", "/console/rules", "policy.view"),
    ("access", "/console/access", "access.view"),
    ("audit", "/console/audit", "audit.view"),
)

# the producer API: (method, path) → permission; a key holds it through its scopes
# (campaigns.send: categories/audiences/channels) or abilities (policy, preferences)
API_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/campaigns"): "campaigns.send",
    ("GET", "/v1/campaigns/{campaign_id}"): "campaigns.view",
    ("POST", "/v1/campaigns/{campaign_id}/cancel"): "campaigns.cancel",
    ("POST", "/v1/messages"): "campaigns.send",
    ("GET", "/v1/messages/{message_id}"): "campaigns.view",
    ("GET", "/v1/deliveries/{delivery_id}"): "deliveries.view",
    ("GET", "/v1/recipients/{recipient_id}/deliveries"): "deliveries.view",
    ("POST", "/v1/receipts/{provider}"): PUBLIC,  # signed by the provider
    ("GET", "/v1/inbox"): PUBLIC,  # a recipient's own token
    ("POST", "/v1/inbox/{item_id}/read"): PUBLIC,
    ("GET", "/v1/inbox/stream"): PUBLIC,
    ("GET", "/v1/inbox/preferences"): PUBLIC,
    ("PUT", "/v1/inbox/preferences"): PUBLIC,
    ("GET", "/v1/categories"): "policy.view",
    ("PUT", "/v1/categories/{name}"): "policy.edit",
    ("GET", "/v1/rules"): "policy.view",
    ("GET", "/v1/rules/{category}"): "policy.view",
    ("PUT", "/v1/rules/{category}"): "policy.edit",
    ("DELETE", "/v1/rules/{category}"): "policy.edit",
    ("GET", "/v1/preferences/{recipient_id}"): "preferences.edit",
    ("PUT", "/v1/preferences/{recipient_id}"): "preferences.edit",
    ("GET", "/v1/unsubscribe/{token}"): PUBLIC,  # signed link
    ("POST", "/v1/unsubscribe/{token}"): PUBLIC,
    ("GET", "/v1/l/{token}"): PUBLIC,  # signed tracked link
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}
# what an API key must hold for a permission beyond sending (clarion.security.ABILITIES)
KEY_ABILITIES = {"policy.edit": "policy", "preferences.edit": "preferences"}


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def pages_for(role: str) -> list[tuple[str, str, str]]:
    return [p for p in PAGES if allowed(role, p[2])]
