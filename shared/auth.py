"""Bearer-token authentication for the HTTP transport, through the SDK's ``TokenVerifier``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken, TokenVerifier

__all__ = ["StaticTokenVerifier"]


class StaticTokenVerifier(TokenVerifier):
    """Accepts the tokens configured in ``AFU9_HTTP_TOKENS`` (``token`` or ``client:token`` entries).

    The caller's identity (for the audit trail) is the ``client`` part, or ``token-<8 hex of its sha256>``.
    Comparison is constant-time; only digests are kept in memory.
    """

    def __init__(self, entries: Sequence[str]) -> None:
        self._clients: dict[bytes, str] = {}
        for entry in entries:
            client, sep, token = entry.partition(":")
            if not sep:
                client, token = "", entry
            digest = hashlib.sha256(token.encode()).digest()
            self._clients[digest] = client or f"token-{digest.hex()[:8]}"

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = hashlib.sha256(token.encode()).digest()
        for known, client in self._clients.items():
            if hmac.compare_digest(known, digest):
                return AccessToken(token=token, client_id=client, scopes=[])
        return None
