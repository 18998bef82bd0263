"""Processing stored deliveries: routing rules, targets retried with backoff, dead letters, replay, at-least-once
without applying a target twice, resuming after a crash. Targets are real tools: the github server's own
(talking to the fake GitHub, with injected faults), reached in-process, and over streamable HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from mcp import Client

from servers.github.schema import webhook_deliveries
from servers.github.server import SERVER
from servers.github.settings import GitHubSettings
from servers.github.webhooks.intake import delivery_of
from servers.github.webhooks.processing import context_of
from servers.github.webhooks.rules import Rules, load_rules
from shared.errors import ConfigError
from shared.server import Afu9Server
from tests.github_fake.issues import add_issue
from tests.github_fake.state import FakeGitHub
from tests.github_fake.webhooks import example
from tests.processes import closed_port
from tests.servers.github.webhook_support import make_settings, post, serving, wait_for_status, webhooks_of
from tests.servers.github.world import fake_deps, populated

COMMENT_RULE = {
    "name": "triage",
    "match": {"event": "issues", "action": "opened", "repository": "octo/*"},
    "tool": {
        "server": "github",
        "name": "add_issue_comment",
        "arguments": {
            "owner": "octo",
            "repo": "${payload.repository.name}",
            "number": "${payload.issue.number}",
            "body": "Thanks ${sender}, triaging (${delivery}).",
        },
    },
}


def _rules(tmp_path: Path, *rules: dict[str, Any], servers: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"servers": servers or {}, "rules": list(rules)}))
    return path


def _target(settings: GitHubSettings, state: FakeGitHub) -> Afu9Server:
    """A second github server on the same fake GitHub and database: what the rules' tool targets call."""
    return SERVER.build(settings, deps=fake_deps(settings, state))


def _comments(state: FakeGitHub, repo: str, number: int) -> list[str]:
    return [comment["body"] for comment in state.repos[repo].comments.get(number, [])]


async def test_a_target_that_fails_twice_is_retried_and_applied_once(database_url: str, tmp_path: Path) -> None:
    state = populated()
    settings = make_settings(tmp_path, database_url, webhook_rules=_rules(tmp_path, COMMENT_RULE))
    state.fail("POST", r"^/repos/octo/shop/issues/1/comments$", 502, times=2)
    payload = example("issues.opened", repository="octo/shop", issue__number=1)
    async with serving(settings, state, targets={"github": _target(settings, state)}) as (server, http):
        assert (await post(http, "issues", payload, delivery="retry-1")).status_code == 202
        row = await wait_for_status(server, "retry-1", "done")
    assert row["attempts"] == 3
    assert row["last_error"] is None
    assert [t["outcome"] for t in row["targets"]] == ["applied"]
    assert _comments(state, "octo/shop", 1)[-1] == "Thanks Codertocat, triaging (retry-1)."
    assert sum("triaging" in body for body in _comments(state, "octo/shop", 1)) == 1


async def test_a_target_that_always_fails_is_dead_lettered_then_replayed_once_fixed(
    database_url: str, tmp_path: Path
) -> None:
    state = populated()
    settings = make_settings(tmp_path, database_url, webhook_rules=_rules(tmp_path, COMMENT_RULE))
    payload = example("issues.opened", repository="octo/missing", issue__number=1)
    async with serving(settings, state, targets={"github": _target(settings, state)}) as (server, http):
        await post(http, "issues", payload, delivery="dead-1")
        dead = await wait_for_status(server, "dead-1", "dead")
        assert dead["attempts"] == 3
        assert "triage: github.add_issue_comment answered an error" in dead["last_error"]
        assert "not found" in dead["last_error"].lower()

        add_issue(state, state.repo("octo/missing"), "Now it exists")  # the fix
        async with Client(_target(settings, state)) as client:  # another process replays
            replay = await client.call_tool("replay_webhook_deliveries", {"dead_letters": True})
        assert replay.structured_content["requeued"] == ["dead-1"]
        webhooks_of(server).wake()  # (or its next look at the table, within seconds)
        done = await wait_for_status(server, "dead-1", "done")
    assert done["last_error"] is None
    assert _comments(state, "octo/missing", 1) == ["Thanks Codertocat, triaging (dead-1)."]


async def test_a_retry_after_the_target_succeeded_does_not_apply_it_twice(database_url: str, tmp_path: Path) -> None:
    state = populated()
    settings = make_settings(tmp_path, database_url, webhook_rules=_rules(tmp_path, COMMENT_RULE))
    payload = example("issues.opened", repository="octo/shop", issue__number=1)
    async with serving(settings, state, targets={"github": _target(settings, state)}) as (server, http):
        await post(http, "issues", payload, delivery="once-1")
        await wait_for_status(server, "once-1", "done")
        # The process died after the target succeeded and before the outcome was recorded: pending again.
        async with server.deps.database.connect() as connection:
            await connection.execute(
                sa.update(webhook_deliveries)
                .where(webhook_deliveries.c.delivery_id == "once-1")
                .values(status="pending", next_attempt_at=datetime.now(UTC), processed_at=None)
            )
        webhooks_of(server).wake()
        again = await wait_for_status(server, "once-1", "done")
    assert [t["outcome"] for t in again["targets"]] == ["already applied"]
    assert sum("triaging" in body for body in _comments(state, "octo/shop", 1)) == 1


async def test_replaying_a_done_delivery_runs_its_targets_again(tmp_path: Path) -> None:
    state = populated()
    settings = make_settings(tmp_path, webhook_rules=_rules(tmp_path, COMMENT_RULE))
    payload = example("issues.opened", repository="octo/shop", issue__number=1)
    async with serving(settings, state, targets={"github": _target(settings, state)}) as (server, http):
        await post(http, "issues", payload, delivery="again-1")
        await wait_for_status(server, "again-1", "done")
        async with Client(_target(settings, state)) as client:
            replay = await client.call_tool("replay_webhook_deliveries", {"delivery_id": "again-1"})
            assert replay.structured_content["requeued_count"] == 1
        webhooks_of(server).wake()
        row = await wait_for_status(server, "again-1", "done")
        while row["replays"] != 1 or row["processed_at"] is None:
            row = await wait_for_status(server, "again-1", "done")
    assert sum("triaging" in body for body in _comments(state, "octo/shop", 1)) == 2


async def test_pending_deliveries_of_a_process_that_died_are_processed_on_start(
    database_url: str, tmp_path: Path
) -> None:
    state = populated()
    settings = make_settings(tmp_path, database_url, webhook_rules=_rules(tmp_path, COMMENT_RULE))
    first = _target(settings, state)
    store = webhooks_of(first).store
    stored = example("issues.opened", repository="octo/shop", issue__number=1)
    mid = example("issues.opened", repository="octo/shop", issue__number=2)
    async with Client(first):  # a process that stored two deliveries and died: one never claimed, one mid-way
        await store.add(delivery_of("crash-stored", "issues", stored, json.dumps(stored).encode()))
        await store.add(delivery_of("crash-mid", "issues", mid, json.dumps(mid).encode()))
        async with first.deps.database.connect() as connection:
            await connection.execute(
                sa.update(webhook_deliveries)
                .where(webhook_deliveries.c.delivery_id == "crash-mid")
                .values(attempts=1, lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
    async with serving(settings, state, targets={"github": _target(settings, state)}) as (server, _http):
        await wait_for_status(server, "crash-stored", "done")
        mid_row = await wait_for_status(server, "crash-mid", "done")
    assert mid_row["attempts"] == 2
    assert _comments(state, "octo/shop", 1)[-1].endswith("(crash-stored).")
    assert _comments(state, "octo/shop", 2)[-1].endswith("(crash-mid).")


async def test_a_delivery_no_rule_matches_is_recorded_only(tmp_path: Path) -> None:
    record = {"name": "keep-pushes", "match": {"event": "push"}, "record": True}
    settings = make_settings(tmp_path, webhook_rules=_rules(tmp_path, COMMENT_RULE, record))
    async with serving(settings, populated()) as (server, http):
        await post(http, "check_run", example("check_run.completed"), delivery="none-1")
        await post(http, "push", example("push"), delivery="push-1")
        unmatched = await wait_for_status(server, "none-1", "done")
        recorded = await wait_for_status(server, "push-1", "done")
    assert unmatched["targets"] == []
    assert recorded["targets"] == [{"rule": "keep-pushes", "target": "record", "outcome": "recorded"}]


async def test_a_workflow_target_without_an_orchestrator_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    rule = {"name": "start-triage", "match": {"event": "issues"}, "workflow": {"name": "triage", "inputs": {}}}
    servers = {"orchestrator": {"url": f"http://127.0.0.1:{closed_port()}/mcp"}}
    settings = make_settings(tmp_path, webhook_rules=_rules(tmp_path, rule, servers=servers))
    async with serving(settings, populated()) as (server, http):
        await post(http, "issues", example("issues.opened"), delivery="wf-1")
        dead = await wait_for_status(server, "wf-1", "dead")
    assert "orchestrator.start_workflow" in dead["last_error"]
    assert "could not be reached" in dead["last_error"]


def test_the_rules_match_on_every_key_and_on_an_expression() -> None:
    rules = Rules.model_validate(
        {
            "rules": [
                {
                    "name": "merged",
                    "match": {"event": "pull_request", "action": "closed"},
                    "if": "payload.pull_request.merged",
                    "record": True,
                },
                {"name": "main-pushes", "match": {"event": "push", "branch": ["main", "master"]}, "record": True},
                {"name": "bugs", "match": {"label": "bu*"}, "record": True},
                {
                    "name": "humans",
                    "match": {"sender": ["codertocat"], "repository": "CODERTOCAT/hello-*"},
                    "record": True,
                },
            ]
        }
    )

    def matched(name: str, **changes: Any) -> list[str]:
        payload = example(name, **changes)
        row = delivery_of("x", name.split(".")[0], payload, b"{}")
        context = context_of({**row.__dict__, "attempts": 0})
        return [rule.name for rule in rules.matching(context)]

    assert matched("pull_request.closed") == ["bugs", "humans"]
    assert matched("pull_request.closed", pull_request__merged=True) == ["merged", "bugs", "humans"]
    assert matched("push") == ["main-pushes", "humans"]
    assert matched("push", ref="refs/heads/feature") == ["humans"]
    assert matched("issues.opened", sender__login="dependabot[bot]") == ["bugs"]
    assert matched("issues.opened", sender__login="dependabot[bot]", issue__labels=[]) == []


def test_templates_keep_types_when_whole_and_become_text_inside_strings() -> None:
    rules = Rules.model_validate(
        {
            "rules": [
                {
                    "name": "t",
                    "tool": {
                        "server": "factory",
                        "name": "record_kpi_measurement",
                        "arguments": {
                            "value": "${payload.issue.number}",
                            "source": "gh:${repository}#${payload.issue.number}",
                            "labels": {"who": "${sender}", "missing": "${payload.nope}", "list": ["${labels}"]},
                        },
                    },
                }
            ]
        }
    )
    payload = example("issues.opened")
    context = context_of({**delivery_of("d-1", "issues", payload, b"{}").__dict__})
    target = rules.rules[0].target(context)
    assert target.arguments == {
        "value": 1,
        "source": "gh:Codertocat/Hello-World#1",
        "labels": {"who": "Codertocat", "missing": None, "list": [["bug"]]},
    }


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"rules": [{"name": "a", "record": True}, {"name": "a", "record": True}]}, "rule names must be unique"),
        ({"rules": [{"name": "a"}]}, "give exactly one target"),
        ({"rules": [{"name": "a", "record": True, "tool": {"server": "x", "name": "y"}}]}, "exactly one target"),
        ({"rules": [{"name": "a", "if": "a[", "record": True}]}, "not a JMESPath expression"),
        ({"rules": [{"name": "a", "match": {"colour": "red"}, "record": True}]}, "colour"),
        ({"rules": [{"name": "a", "tool": {"server": "f", "name": "t", "arguments": {"x": "${[}"}}}]}, "JMESPath"),
        ({"rulez": []}, "rulez"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_each_problem(
    document: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert problem in str(caught.value)
    assert "AFU9_GITHUB_WEBHOOK_RULES" in str(caught.value)
    assert str(path) in str(caught.value)


def test_an_unreadable_or_malformed_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("rules: [unclosed")
    with pytest.raises(ConfigError, match="not valid"):
        load_rules(tmp_path / "bad.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_rules(tmp_path / "empty.yaml").rules == []


async def test_a_bad_rules_file_stops_the_server_at_start(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: broken\n")
    settings = make_settings(tmp_path, webhook_rules=path)
    with pytest.raises(ConfigError, match="give exactly one target"):
        async with serving(settings, populated()):
            pass


def test_backoff_doubles_is_capped_and_jittered(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, webhook_retry_seconds=10, webhook_max_retry_seconds=60)
    webhooks = fake_deps(settings, populated()).webhooks
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [webhooks.backoff(attempts) for _ in range(200)]
        assert all(full / 2 <= delay <= full for delay in delays), attempts
        assert max(delays) - min(delays) > full / 10  # spread out


def test_payloads_are_read_only_for_rules_that_need_them() -> None:
    def rules(*listed: dict[str, Any]) -> Rules:
        return Rules.model_validate({"rules": list(listed)})

    by_columns = {"name": "a", "match": {"event": "push", "repository": "octo/*", "sender": "x"}, "record": True}
    assert rules().read_payloads is False
    assert rules(by_columns).read_payloads is False
    assert rules(by_columns, {"name": "b", "match": {"branch": "main"}, "record": True}).read_payloads is True
    assert rules({"name": "c", "match": {"label": "bug"}, "record": True}).read_payloads is True
    assert rules({"name": "d", "if": "payload.forced", "record": True}).read_payloads is True
    assert rules(COMMENT_RULE).read_payloads is True


async def test_a_tool_target_on_another_server_is_called_over_http_with_its_token_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from tests.processes import afu9_http

    token = "factory-token-" + "t" * 24
    monkeypatch.setenv("FACTORY_TEST_TOKEN", token)
    env = {"AFU9_HTTP_TOKENS": f"github:{token}", "AFU9_ALLOW_WRITES": "1"}
    rule = {
        "name": "count-issues",
        "match": {"event": "issues", "action": "opened"},
        "tool": {
            "server": "factory",
            "name": "record_kpi_measurement",
            "arguments": {
                "kpi_id": "throughput",
                "value": "${payload.issue.number}",
                "source": "github:${repository}#${payload.issue.number}",
            },
        },
    }
    with afu9_http("serve", "factory", "--transport", "http", env=env, data_dir=tmp_path / "factory") as factory:
        servers = {"factory": {"url": factory.url(), "token_env": "FACTORY_TEST_TOKEN"}}
        settings = make_settings(tmp_path, webhook_rules=_rules(tmp_path, rule, servers=servers))
        payload = example("issues.opened", repository="octo/shop", issue__number=7)
        async with serving(settings, populated()) as (server, http):
            await post(http, "issues", payload, delivery="http-1")
            row = await wait_for_status(server, "http-1", "done", timeout=30)
            async with server.deps.database.connect() as connection:  # as if the outcome had not been recorded
                await connection.execute(
                    sa.update(webhook_deliveries)
                    .where(webhook_deliveries.c.delivery_id == "http-1")
                    .values(status="pending", next_attempt_at=datetime.now(UTC), processed_at=None)
                )
            webhooks_of(server).wake()
            again = await wait_for_status(server, "http-1", "done", timeout=30)
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client_http,
            Client(streamable_http_client(factory.url(), http_client=client_http)) as client,
        ):
            history = await client.call_tool("get_kpi_history", {"kpi_id": "throughput"})
    assert row["targets"][0]["outcome"] == "applied"
    assert row["targets"][0]["target"] == "factory.record_kpi_measurement"
    assert [t["outcome"] for t in again["targets"]] == ["already applied"]
    assert history.structured_content is not None
    measurements = history.structured_content["measurements"]
    assert [(m["value"], m["source"]) for m in measurements] == [(7.0, "github:octo/shop#7")]
