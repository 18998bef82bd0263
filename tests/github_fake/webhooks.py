"""Signed webhook deliveries as GitHub sends them, from real example payloads.

``webhook_examples.json`` holds payloads of the common events from ``@octokit/webhooks-examples`` (see its
``source``); :func:`example` returns a copy, changed as a test needs, and validated by githubkit's webhook
models so a fixture cannot drift from GitHub's shapes. :func:`signed` gives the body and the headers GitHub
sends (``X-Hub-Signature-256``, ``X-GitHub-Delivery``, ``X-GitHub-Event``, ``X-GitHub-Hook-ID``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLES", "example", "signature", "signed"]

_FILE = Path(__file__).with_name("webhook_examples.json")


@functools.cache
def _examples() -> dict[str, dict[str, Any]]:
    return json.loads(_FILE.read_text())["examples"]


EXAMPLES = (
    "ping",
    "push",
    "issues.opened",
    "issues.labeled",
    "issue_comment.created",
    "pull_request.opened",
    "pull_request.closed",
    "pull_request.synchronize",
    "check_run.completed",
    "check_suite.completed",
    "workflow_run.completed",
)


def example(name: str, *, repository: str | None = None, **changes: Any) -> dict[str, Any]:
    """The example ``name`` (``event.action``), with ``changes`` applied (dotted paths) and, when given,
    moved to ``repository``; validated by githubkit's models."""
    from githubkit.webhooks import parse_obj

    payload = copy.deepcopy(_examples()[name])
    if repository is not None:
        owner, repo = repository.split("/")
        payload["repository"]["full_name"] = repository
        payload["repository"]["name"] = repo
        payload["repository"]["owner"]["login"] = owner
    for path, value in changes.items():
        target = payload
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    parse_obj(name.split(".")[0], payload)  # type: ignore[arg-type] - raises when the fixture is not GitHub's shape
    return payload


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(
    secret: str,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    delivery: str | None = None,
    hook_id: int = 4242,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery of ``payload`` signed with ``secret``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc1234",
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-Hub-Signature-256": signature(secret, body),
    }
    return body, headers
