"""Toolset ``webhooks`` (opt-in): the GitHub webhook deliveries this server received, an event feed to poll,
replay, and redelivery of what GitHub failed to send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field

from servers.github.arguments import Key
from servers.github.deps import GitHubDeps
from servers.github.webhooks.answers import (
    DeliveryDetail,
    DeliveryList,
    EventFeed,
    Redelivery,
    Replay,
    delivery_item,
    event_of,
    shown_payload,
)
from servers.github.webhooks.recovery import recover
from shared.errors import InvalidRequest, NotFound
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.timestamps import utc
from shared.toolset import Toolset

__all__ = ["webhooks"]

webhooks = Toolset(
    "webhooks",
    "GitHub webhook deliveries received here: an event feed to poll, delivery status, replay, recovery.",
    start_with="poll_webhook_events",
    default=False,
)

DeliveryId = Annotated[str, Field(min_length=1, max_length=64, description="X-GitHub-Delivery id.")]
Since = Annotated[datetime | None, Field(description="Received at or after (ISO 8601).")]
Until = Annotated[datetime | None, Field(description="Received before (ISO 8601).")]
_SHOWN_IDS = 50


@webhooks.read(title="Poll webhook events")
async def poll_webhook_events(
    deps: GitHubDeps,
    repositories: Annotated[list[str] | None, Field(max_length=50, description="owner/name; default all.")] = None,
    events: Annotated[list[str] | None, Field(max_length=50, description="e.g. pull_request, push.")] = None,
    cursor: Annotated[str | None, Field(description="From next_cursor; none: the latest.")] = None,
    limit: Annotated[int, Field(ge=1, le=200, description="Events at most.")] = 50,
) -> EventFeed:
    """What happened on GitHub since the last look: one line per event received (PR merged, check failed...),
    oldest first. Keep next_cursor and call again later; get_webhook_delivery shows one in full."""
    after = _position(cursor, "after") if cursor else None
    store = deps.webhooks.store
    settled = datetime.now(UTC) - deps.webhooks.feed_settle
    rows = await store.feed(
        after_seq=after, repositories=repositories or [], events=events or [], settled_before=settled, limit=limit
    )
    more = after is not None and len(rows) > limit
    rows = rows[:limit]
    if rows:
        last = rows[-1]["seq"]
    elif after is not None:
        last = after
    else:
        last = await store.last_seq()
    return EventFeed(events=[event_of(row) for row in rows], next_cursor=encode_cursor({"after": last}), more=more)


@webhooks.read(title="List webhook deliveries")
async def list_webhook_deliveries(
    deps: GitHubDeps,
    status: Annotated[
        Literal["pending", "done", "dead", "invalid"] | None, Field(description="dead: dead letters.")
    ] = None,
    event: Annotated[str | None, Field(max_length=64, description="e.g. push.")] = None,
    repository: Annotated[str | None, Field(max_length=255, description="owner/name.")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Per page.")] = 30,
    cursor: Annotated[str | None, Field(description="From next_cursor.")] = None,
) -> DeliveryList:
    """Stored webhook deliveries, newest first, with processing status (dead = dead letter, with its last error).
    Then get_webhook_delivery, or replay_webhook_deliveries."""
    before = _position(cursor, "before") if cursor else None
    rows = await deps.webhooks.store.page(
        status=status,
        event=event,
        repository=repository,
        since=utc(since) if since else None,
        until=utc(until) if until else None,
        before_seq=before,
        limit=limit,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    following = encode_cursor({"before": rows[-1]["seq"]}) if more and rows else None
    return DeliveryList(items=[delivery_item(row) for row in rows], next_cursor=following)


@webhooks.read(title="Get a webhook delivery")
async def get_webhook_delivery(
    deps: GitHubDeps,
    delivery_id: DeliveryId,
    select: Annotated[str | None, Field(max_length=500, description="JMESPath into the payload.")] = None,
    max_bytes: Annotated[int, Field(ge=256, le=200_000, description="Payload size cap.")] = 8_000,
) -> DeliveryDetail:
    """One delivery: its processing (targets, attempts, last error) and payload, cleaned and cut to max_bytes
    (select narrows it, e.g. pull_request.head). Then replay_webhook_deliveries if it failed."""
    row = await deps.webhooks.store.get(delivery_id)
    if row is None:
        raise NotFound(f"No webhook delivery {delivery_id!r} is stored; list_webhook_deliveries shows what is.")
    payload = row["payload"]
    if select is not None and payload is not None:
        payload = _select(select, payload)
    shown, truncated, sanitised = shown_payload(payload, max_bytes)
    item = delivery_item(row)
    return DeliveryDetail(
        **item.model_dump(),
        sender=row["sender"],
        hook_id=row["hook_id"],
        installation_id=row["installation_id"],
        processed_at=row["processed_at"].isoformat() if row["processed_at"] else None,
        targets=list(row["targets"] or []),
        payload=shown,
        payload_truncated=truncated,
        body=row["body"],
        sanitised=sanitised,
    )


@webhooks.write(title="Replay webhook deliveries", destructive=False, idempotent=False)
async def replay_webhook_deliveries(
    deps: GitHubDeps,
    delivery_id: Annotated[str | None, Field(min_length=1, max_length=64, description="One delivery.")] = None,
    dead_letters: Annotated[bool, Field(description="Every dead letter (with since/until: those).")] = False,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Field(ge=1, le=10_000, description="Deliveries at most.")] = 1_000,
    idempotency_key: Key = None,
) -> Replay:
    """Process stored deliveries again: one by id, the dead letters, or all received in a time range. Targets
    that already succeeded for a dead letter are not run twice; a done delivery runs its targets anew. Then
    list_webhook_deliveries to follow them."""
    if delivery_id is None and not dead_letters and since is None and until is None:
        raise InvalidRequest("Say what to replay: delivery_id, dead_letters=true, or a since/until range.")

    async def act() -> Replay:
        replayed, skipped = await deps.webhooks.store.replay(
            delivery_id=delivery_id,
            dead=dead_letters,
            since=utc(since) if since else None,
            until=utc(until) if until else None,
            limit=limit,
        )
        if delivery_id is not None and not replayed and not skipped:
            raise NotFound(f"No webhook delivery {delivery_id!r} is stored; list_webhook_deliveries shows what is.")
        deps.webhooks.wake()
        return Replay(requeued=replayed[:_SHOWN_IDS], requeued_count=len(replayed), skipped=skipped[:_SHOWN_IDS])

    request = {"delivery_id": delivery_id, "dead": dead_letters, "since": since, "until": until, "limit": limit}
    return await deps.idempotency.once(
        tool="replay_webhook_deliveries", key=idempotency_key, request=request, action=act, result_type=Replay
    )


@webhooks.write(title="Redeliver failed webhooks", destructive=False, idempotent=True, open_world=True)
async def redeliver_failed_webhooks(
    deps: GitHubDeps,
    owner: Annotated[str | None, Field(description="Repository or organisation owner; none: the App's hook.")] = None,
    repo: Annotated[str | None, Field(description="Repository name; none: an organisation's hook.")] = None,
    hook_id: Annotated[int | None, Field(ge=1, description="Default: the hook sending to /webhooks/github.")] = None,
    since: Annotated[datetime | None, Field(description="Default: 24 hours ago.")] = None,
    limit: Annotated[int, Field(ge=1, le=500, description="Redeliveries at most.")] = 100,
    dry_run: Annotated[bool, Field(description="Only say what would be redelivered.")] = False,
) -> Redelivery:
    """Ask GitHub to send again the deliveries of a hook that failed since a time (GitHub keeps about three
    days), skipping those stored here. Then poll_webhook_events or list_webhook_deliveries."""
    start = utc(since) if since else datetime.now(UTC) - timedelta(hours=24)
    found = await recover(
        deps.github,
        deps.webhooks.store,
        owner=owner,
        repo=repo,
        hook_id=hook_id,
        since=start,
        limit=limit,
        dry_run=dry_run,
    )
    return Redelivery(
        hook=found.hook,
        scanned=found.scanned,
        failed=len(found.failed),
        already_stored=len(found.already_stored),
        redelivered=found.redelivered,
        errors=found.errors[:20],
        complete=found.complete,
        dry_run=dry_run,
    )


def _position(cursor: str, key: str) -> int:
    value = decode_cursor(cursor, keys=frozenset({key}))[key]
    if type(value) is not int or value < 0:
        raise invalid_cursor()
    return value


def _select(expression: str, payload: object) -> object:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(expression, payload)
    except JMESPathError as error:
        raise InvalidRequest(f"select is not a JMESPath expression: {str(error).splitlines()[0][:200]}") from None
