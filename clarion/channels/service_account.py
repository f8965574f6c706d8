"""A Google service account, read from its JSON key file, as OAuth 2.0 assertions.

The short-lived access token is obtained by signing a JWT (RS256, RFC 7523) with the account's
private key and exchanging it at the token endpoint the file names (``token_uri``):
``POST token_uri`` with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and
``assertion=<JWT>`` → ``{"access_token", "expires_in": 3599, "token_type": "Bearer"}``.
The private key stays inside this object: never printed, never in an error.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .base import ConfigurationError

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LIFETIME = 3600  # seconds: the longest an assertion may live
FIELDS = ("client_email", "private_key", "private_key_id", "token_uri")


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key_id: str
    token_uri: str
    project_id: str | None
    _key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def from_file(cls, path: str | Path, where: str = "credentials_file") -> ServiceAccount:
        """The account in a key file; a ConfigurationError names ``where`` (never the key)."""
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{where}: cannot read a service-account JSON file "
                                     f"({type(exc).__name__})") from None
        return cls.from_info(info, where)

    @classmethod
    def from_info(cls, info: Any, where: str = "credentials_file") -> ServiceAccount:
        missing = [k for k in FIELDS if not (isinstance(info, dict) and info.get(k))]
        if missing or info.get("type") != "service_account":
            raise ConfigurationError(f"{where}: not a service-account key (type "
                                     f"service_account with {', '.join(FIELDS)})")
        try:
            key = serialization.load_pem_private_key(info["private_key"].encode(), None)
        except (ValueError, TypeError):
            raise ConfigurationError(f"{where}: private_key is not a PEM RSA key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError(f"{where}: private_key is not an RSA key")
        return cls(info["client_email"], info["private_key_id"], info["token_uri"],
                   info.get("project_id"), key)

    def assertion(self, scope: str = FCM_SCOPE, now: float | None = None) -> str:
        """A signed JWT asking ``token_uri`` for a token of ``scope``, valid for an hour."""
        issued = int(time.time() if now is None else now)
        header = {"alg": "RS256", "typ": "JWT", "kid": self.private_key_id}
        claims = {"iss": self.client_email, "scope": scope, "aud": self.token_uri,
                  "iat": issued, "exp": issued + LIFETIME}
        signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
