"""The answers of the ``webhooks`` toolset: compact projections of stored deliveries, the event feed, replays
and recoveries. Payloads are shown cleaned (``shared.untrusted``), redacted, and cut to a size."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from shared.redaction import redact_value
from shared.timestamps import iso
from shared.untrusted import clean

__all__ = [
    "DeliveryDetail",
    "DeliveryItem",
    "DeliveryList",
    "Event",
    "EventFeed",
    "Redelivery",
    "Replay",
    "delivery_item",
    "event_of",
    "shown_payload",
]

_STRING = 2_000
_ITEMS = 50
_DEPTH = 12


class DeliveryItem(BaseModel):
    delivery_id: str = Field(description="X-GitHub-Delivery id.")
    event: str = Field(description="X-GitHub-Event, e.g. pull_request.")
    action: str | None = Field(description="The payload's action, e.g. opened.")
    repository: str | None = Field(description="owner/name.")
    summary: str = Field(description="What happened, in one line.")
    status: str = Field(description="pending, done, dead (dead letter) or invalid (not JSON).")
    attempts: int = Field(description="Attempts at its targets so far.")
    received_at: str = Field(description="ISO 8601, UTC.")
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")
    next_attempt_at: str | None = Field(default=None, description="When a pending delivery is tried next.")


class DeliveryList(BaseModel):
    items: list[DeliveryItem] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass back for older ones; none: no more.")


class DeliveryDetail(DeliveryItem):
    sender: str | None = Field(description="Login of who caused the event.")
    hook_id: int | None = Field(description="The GitHub hook that sent it.")
    installation_id: int | None = Field(description="The GitHub App installation, if any.")
    processed_at: str | None = Field(description="When it reached done, dead or invalid.")
    targets: list[dict[str, Any]] = Field(description="The last attempt: each matched rule and its outcome.")
    payload: Any = Field(description="The payload (or the selected part), cleaned and cut.")
    payload_truncated: bool = Field(description="Parts of the payload were cut; select narrows it.")
    body: str | None = Field(description="What came, when it was not JSON.")
    sanitised: bool = Field(description="Invisible characters or hidden HTML comments were removed.")


class Event(BaseModel):
    at: str = Field(description="Received, ISO 8601, UTC.")
    event: str = Field(description="e.g. pull_request.")
    action: str | None = Field(description="e.g. closed.")
    repository: str | None = Field(description="owner/name.")
    summary: str = Field(description="What happened, in one line.")
    delivery_id: str = Field(description="For get_webhook_delivery.")
    status: str = Field(description="Its processing: pending, done, dead or invalid.")


class EventFeed(BaseModel):
    events: list[Event] = Field(description="Oldest first.")
    next_cursor: str = Field(description="Pass back to get what arrives after these.")
    more: bool = Field(description="More events are waiting: call again now.")


class Replay(BaseModel):
    requeued: list[str] = Field(description="Delivery ids put back to pending (the first 50).")
    requeued_count: int = Field(description="How many were put back.")
    skipped: list[str] = Field(description="Ids left alone, each with why.")
    replayed: bool = Field(default=False, description="This answer repeats a call with the same idempotency key.")


class Redelivery(BaseModel):
    hook: str = Field(description="The hook whose deliveries were read.")
    scanned: int = Field(description="Delivery attempts read from GitHub's record.")
    failed: int = Field(description="Deliveries with no successful attempt since the time given.")
    already_stored: int = Field(description="Failed on GitHub's side, yet stored here: skipped.")
    redelivered: list[str] = Field(description="Delivery ids GitHub was asked to send again (would be, dry run).")
    errors: list[str] = Field(description="Redelivery requests GitHub refused.")
    complete: bool = Field(description="False: GitHub's record was longer than the scan; narrow since.")
    dry_run: bool = Field(description="Nothing was asked of GitHub.")


def delivery_item(row: Mapping[str, Any]) -> DeliveryItem:
    return DeliveryItem(
        delivery_id=row["delivery_id"],
        event=row["event"],
        action=row["action"],
        repository=row["repository"],
        summary=row["summary"],
        status=row["status"],
        attempts=row["attempts"],
        received_at=iso(row["received_at"]) or "",
        last_error=row["last_error"],
        next_attempt_at=iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
    )


def event_of(row: Mapping[str, Any]) -> Event:
    return Event(
        at=iso(row["received_at"]) or "",
        event=row["event"],
        action=row["action"],
        repository=row["repository"],
        summary=row["summary"],
        delivery_id=row["delivery_id"],
        status=row["status"],
    )


def shown_payload(value: Any, max_bytes: int) -> tuple[Any, bool, bool]:
    """``value`` cleaned of invisible text and secrets, long strings and lists cut; as text cut to ``max_bytes``
    when still larger. Returns (payload, truncated, sanitised)."""
    removed = [False]
    cut = [False]
    shown = redact_value(_bounded(value, removed, cut, 0))
    encoded = json.dumps(shown, separators=(",", ":"), ensure_ascii=False)
    if len(encoded.encode()) <= max_bytes:
        return shown, cut[0], removed[0]
    if isinstance(shown, str):  # a selected text: cut the text itself, not its JSON quoting
        return shown.encode()[:max_bytes].decode("utf-8", "ignore") + "…", True, removed[0]
    return encoded.encode()[:max_bytes].decode("utf-8", "ignore") + "…", True, removed[0]


def _bounded(value: Any, removed: list[bool], cut: list[bool], depth: int) -> Any:
    if isinstance(value, str):
        cleaned, was = clean(value)
        removed[0] = removed[0] or was
        text = cleaned or ""
        if len(text) > _STRING:
            cut[0] = True
            return text[:_STRING] + f"…[{len(text) - _STRING} more chars]"
        return text
    if depth >= _DEPTH and isinstance(value, dict | list):
        cut[0] = True
        return "…[nested deeper]"
    if isinstance(value, dict):
        return {str(k): _bounded(v, removed, cut, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > _ITEMS:
            cut[0] = True
        items = [_bounded(v, removed, cut, depth + 1) for v in value[:_ITEMS]]
        return items + ([f"…[{len(value) - _ITEMS} more items]"] if len(value) > _ITEMS else [])
    return value
