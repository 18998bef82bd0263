"""``POST /webhooks/github``: a verified delivery is stored before the answer, then processed off the path.

The kit's :class:`~shared.routes.Signed` guard runs :func:`signature_check` before the body is parsed or
stored: HMAC-SHA256 of the raw body against ``X-Hub-Signature-256`` with ``GITHUB_WEBHOOK_SECRET`` (or one of
``GITHUB_WEBHOOK_SECRET_PREVIOUS`` during a rotation), compared in constant time; a missing, wrong or
SHA-1-only signature gets 401, no secret configured 503, a body over 25 MB (GitHub's own cap) 413.

A verified delivery is stored once per ``X-GitHub-Delivery`` (a redelivery of a stored one answers 200 and
stores nothing new); a body that is not a JSON object is stored as ``invalid`` (nothing lost, visible in the
feed); ``ping`` is stored as done. The answer is 202 once the row is committed; a database that is away
answers 503, which GitHub records as a failed delivery (recoverable later: ``redeliver_failed_webhooks``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from servers.github.models import as_dict, number, text
from servers.github.settings import GitHubSettings
from servers.github.webhooks.store import DONE, INVALID, PENDING, NewDelivery
from servers.github.webhooks.summaries import summarize
from shared.errors import DependencyUnavailable
from shared.routes import SignatureCheck

__all__ = ["MAX_BODY", "delivery_of", "intake", "signature_check", "storable"]

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
_BODY_KEPT = 64 * 1024  # of a body that is not JSON
_PARSE_OFF_LOOP = 256 * 1024  # bodies larger than this are parsed in a worker thread
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_EVENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SURROGATE = re.compile("[\ud800-\udfff]")


def signature_check(settings: GitHubSettings) -> SignatureCheck | None:
    """The check of ``X-Hub-Signature-256`` against the configured secrets (None: no secret, the route 503s)."""
    secrets = []
    if settings.webhook_secret is not None and settings.webhook_secret.get_secret_value():
        secrets.append(settings.webhook_secret.get_secret_value().encode())
    if settings.webhook_previous_secrets is not None:
        previous = settings.webhook_previous_secrets.get_secret_value().split(",")
        secrets += [secret.strip().encode() for secret in previous if secret.strip()]
    if not secrets or settings.webhook_secret is None:
        return None
    keys = tuple(secrets)

    def check(headers: Headers, body: bytes) -> bool:
        header = headers.get("x-hub-signature-256", "")
        if not header.startswith("sha256="):
            return False  # absent, or X-Hub-Signature (SHA-1) only: refused
        given = header[len("sha256=") :].strip().lower().encode("ascii", "replace")
        valid = False
        for key in keys:  # every key is tried, so the time does not say which one matched
            expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
            valid |= hmac.compare_digest(expected, given)
        return valid

    return check


def _json(status: int, body: Mapping[str, object]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


async def intake(request: Request, server: Any) -> Response:
    """The route's endpoint (behind the Signed guard: the signature is already verified)."""
    headers = request.headers
    delivery_id = headers.get("x-github-delivery", "")
    event = headers.get("x-github-event", "")
    if not _DELIVERY_ID.match(delivery_id):
        return _json(400, {"error": "invalid_request", "error_description": "X-GitHub-Delivery is missing or bad."})
    if not _EVENT.match(event):
        return _json(400, {"error": "invalid_request", "error_description": "X-GitHub-Event is missing or bad."})
    body = await request.body()
    payload = await _parse(body)
    delivery = delivery_of(delivery_id, event, payload, body, hook_id=_int(headers.get("x-github-hook-id")))
    webhooks = server.deps.webhooks
    try:
        stored = await webhooks.store.add(delivery)
    except DependencyUnavailable:
        log.warning("webhook delivery %s (%s) not stored: the database is unavailable", delivery_id, event)
        description = "The delivery could not be stored now; GitHub may redeliver it."
        return _json(503, {"error": "unavailable", "error_description": description})
    if stored and delivery.status == PENDING:
        webhooks.wake()
    if event == "ping":
        return _json(200 if not stored else 202, {"delivery": delivery_id, "stored": stored, "pong": True})
    return _json(202 if stored else 200, {"delivery": delivery_id, "stored": stored})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python reads them, no database stores them


def _loads(body: bytes) -> Any:
    return json.loads(body, parse_constant=_no_constants)


async def _parse(body: bytes) -> Mapping[str, Any] | None:
    try:
        parsed = _loads(body) if len(body) <= _PARSE_OFF_LOOP else await asyncio.to_thread(_loads, body)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def delivery_of(
    delivery_id: str, event: str, payload: Mapping[str, Any] | None, body: bytes, *, hook_id: int | None = None
) -> NewDelivery:
    """The row for a verified delivery: ``payload`` is ``body`` parsed (None: the body was not a JSON object)."""
    now = datetime.now(UTC)
    if payload is None:
        kept = body[:_BODY_KEPT].decode("utf-8", "replace")
        return NewDelivery(
            delivery_id=delivery_id,
            event=event,
            action=None,
            repository=None,
            installation_id=None,
            hook_id=hook_id,
            sender=None,
            summary=summarize(event, None),
            received_at=now,
            payload=None,
            body=storable(kept) + (f"…[{len(body) - _BODY_KEPT} more bytes]" if len(body) > _BODY_KEPT else ""),
            status=INVALID,
        )
    cleaned = storable(payload) if _needs_cleaning(body) else payload
    return NewDelivery(
        document=_as_sent(body) if cleaned is payload else None,
        delivery_id=delivery_id,
        event=event,
        action=_short(text(payload, "action")),
        repository=_short(text(as_dict(payload.get("repository")), "full_name"), 255),
        installation_id=number(as_dict(payload.get("installation")), "id"),
        hook_id=hook_id if hook_id is not None else number(payload, "hook_id"),
        sender=_short(text(as_dict(payload.get("sender")), "login"), 255),
        summary=storable(summarize(event, payload)),
        received_at=now,
        payload=cleaned,
        body=None,
        status=DONE if event == "ping" else PENDING,
    )


def _as_sent(body: bytes) -> str | None:
    """The body as the JSON text to store (it is the payload, and storing it spares encoding the payload again);
    None when it is not UTF-8 (JSON may come as UTF-16 or 32: then the parsed payload is encoded instead)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _needs_cleaning(body: bytes) -> bool:
    """Whether the JSON may hold what no database stores (NUL, lone surrogates) once parsed."""
    return b"\\u0000" in body or b"\\ud" in body or b"\\uD" in body


def storable(value: Any) -> Any:
    """``value`` with NUL characters and unpaired surrogates replaced in every string (PostgreSQL refuses
    them in text and JSONB); integers outside 64 bits become text (JSONB keeps them, SQLite's JSON not)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
        return value
    if isinstance(value, dict):
        return {storable(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return value


def _short(value: str | None, limit: int = 64) -> str | None:
    return storable(value[:limit]) if value is not None else None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() and len(value) < 19 else None
