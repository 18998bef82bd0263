"""The github server's HTTP routes beside /mcp: the GitHub webhook intake, signed instead of bearer-guarded.

POST /webhooks/github    a GitHub webhook delivery (X-Hub-Signature-256 over the raw body; 25 MB at most)
"""

from __future__ import annotations

from typing import Any

from servers.github.webhooks.intake import MAX_BODY, intake, signature_check
from shared.routes import RouteSpec, SignatureCheck, Signed

__all__ = ["ROUTES"]


def _check(deps: Any) -> SignatureCheck | None:
    return signature_check(deps.webhooks.settings)


ROUTES = (
    RouteSpec(
        "/webhooks/github",
        intake,
        ("POST",),
        Signed(_check, "GITHUB_WEBHOOK_SECRET"),
        "GitHub webhook deliveries: verified, stored, then processed by the routing rules.",
        max_body_bytes=MAX_BODY,
    ),
)
