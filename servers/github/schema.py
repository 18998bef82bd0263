"""The github server's tables: the webhook deliveries it received, with their processing state, and their
payloads apart (processing updates a delivery's row twice per attempt; a row without its payload stays small,
so those updates do not rewrite tens of kilobytes each time).

They are created by the revisions in ``migrations/`` (``deps.MIGRATIONS``); a test checks the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import JSONDoc, Timestamp, metadata

__all__ = ["webhook_deliveries", "webhook_payloads"]

# seq orders deliveries for the event feed's cursor; delivery_id (X-GitHub-Delivery) deduplicates them.
# status: pending (targets still to run; next_attempt_at says when), done, dead (attempts exhausted:
# last_error says why), invalid (signed but not JSON: body keeps what came).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64)),
    sa.Column("repository", sa.String(255)),
    sa.Column("installation_id", sa.BigInteger()),
    sa.Column("hook_id", sa.BigInteger()),
    sa.Column("sender", sa.String(255)),
    sa.Column("summary", sa.String(500), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("replays", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("targets", JSONDoc),
    sa.Column("last_error", sa.Text()),
    sa.Column("next_attempt_at", Timestamp),
    sa.Column("lease_until", Timestamp),
    sa.Column("processed_at", Timestamp),
    sa.UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_received_at", "received_at"),
)

# One row per delivery: the payload as GitHub sent it (NUL and lone surrogates replaced), or, for a body that is
# not a JSON object, the first 64 KB of what came (body).
webhook_payloads = sa.Table(
    "webhook_payloads",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey("webhook_deliveries.seq", ondelete="CASCADE", name="fk_webhook_payloads_seq"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("payload", JSONDoc),
    sa.Column("body", sa.Text()),
)
