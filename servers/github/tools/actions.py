"""Toolset ``actions`` (opt-in): GitHub Actions workflow runs, their jobs and logs; re-run, cancel, dispatch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from pydantic import Field

from servers.github.actions import (
    FAILED,
    JobLog,
    RunRequested,
    WorkflowDispatched,
    WorkflowRun,
    WorkflowRunDetail,
    WorkflowRuns,
    failed_step,
    job_of,
    read_job_log,
    run_of,
    workflow_segment,
)
from servers.github.arguments import Key, Owner, Repo
from servers.github.deps import GitHubDeps
from servers.github.models import Untrusted, as_dict, as_list, next_cursor, number, page_of, text
from servers.github.paths import repo_path
from shared.errors import Conflict, NotFound
from shared.toolset import Toolset

__all__ = ["actions"]

A = TypeVar("A")
B = TypeVar("B")

MAX_JOB_PAGES = 3  # of 100 jobs: a run has at most 256
ALL_STEPS_UP_TO = 20  # jobs; past it only the failed jobs' steps are listed

actions = Toolset(
    "actions",
    "GitHub Actions: workflow runs, their jobs and failing logs; re-run, cancel and dispatch workflows.",
    start_with="list_workflow_runs",
    default=False,
)

RunId = Annotated[int, Field(ge=1, description="Workflow run id.")]


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both answers, asked at once; when one fails, the other is abandoned and the failure raised."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.gather(one, two)
    except BaseException:
        one.cancel()
        two.cancel()
        raise
    return one.result(), two.result()


@actions.read(title="List workflow runs", open_world=True)
async def list_workflow_runs(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    workflow: Annotated[str | None, Field(description="Workflow file (ci.yml) or id.")] = None,
    branch: Annotated[str | None, Field(description="Branch.")] = None,
    event: Annotated[str | None, Field(description="Event, e.g. push.")] = None,
    status: Annotated[str | None, Field(description="Status or conclusion, e.g. failure.")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Per page.")] = 20,
    cursor: Annotated[str | None, Field(description="From next_cursor.")] = None,
) -> WorkflowRuns:
    """List workflow runs of a repository, newest first, optionally filtered. Then get_workflow_run."""
    page = page_of(cursor)
    where = repo_path(owner, repo, "actions")
    path = f"{where}/workflows/{workflow_segment(workflow)}/runs" if workflow else f"{where}/runs"
    params = {"branch": branch, "event": event, "status": status, "per_page": limit, "page": page}
    answer = await deps.github.request("GET", path, params=params)
    clean = Untrusted()
    runs = [WorkflowRun(**run_of(run, clean)) for run in as_list(as_dict(answer.data).get("workflow_runs"))]
    return WorkflowRuns(items=runs, next_cursor=next_cursor(answer.has_next_page, page), sanitised=clean.removed)


@actions.read(title="Get a workflow run", open_world=True)
async def get_workflow_run(deps: GitHubDeps, owner: Owner, repo: Repo, run_id: RunId) -> WorkflowRunDetail:
    """A run with its jobs and their steps; failed_jobs lists the jobs to read with get_job_log."""
    where = repo_path(owner, repo, "actions")
    run, listed = await _both(deps.github.request("GET", f"{where}/runs/{run_id}"), _jobs(deps, where, run_id))
    clean = Untrusted()
    fields = run_of(run.data, clean)
    jobs = [job_of(job, clean) for job in listed]
    failed = [job.id for job in jobs if job.conclusion in FAILED]
    brief = len(jobs) > ALL_STEPS_UP_TO
    if brief:  # a big matrix: the failed jobs' steps are what a reader needs
        jobs = [job if job.conclusion in FAILED else job.model_copy(update={"steps": []}) for job in jobs]
    return WorkflowRunDetail(**fields, failed_jobs=failed, jobs=jobs, only_failed_steps=brief, sanitised=clean.removed)


async def _jobs(deps: GitHubDeps, where: str, run_id: int) -> list[Any]:
    """The jobs of a run's latest attempt, page by page (GitHub's matrices reach 256 jobs)."""
    jobs: list[Any] = []
    for page in range(1, MAX_JOB_PAGES + 1):
        listed = await deps.github.request("GET", f"{where}/runs/{run_id}/jobs", params={"per_page": 100, "page": page})
        jobs += as_list(as_dict(listed.data).get("jobs"))
        if not listed.has_next_page:
            break
    return jobs


@actions.read(title="Get a job's log", open_world=True)
async def get_job_log(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    job_id: Annotated[int, Field(ge=1, description="Job id (from get_workflow_run).")],
    tail_lines: Annotated[int, Field(ge=1, le=2000, description="Last lines to return.")] = 200,
) -> JobLog:
    """Why a job failed: the step that failed, the log's ##[error] lines and its last lines (secrets
    redacted). Take job ids from get_workflow_run."""
    where = repo_path(owner, repo, "actions")
    clean = Untrusted()
    job, log = await _both(
        deps.github.request("GET", f"{where}/jobs/{job_id}"),
        read_job_log(deps.github, f"{where}/jobs/{job_id}/logs", tail_lines, clean),
    )
    if log is None:
        raise NotFound(
            f"GitHub has no log for job {job_id}: it has not finished, or its log expired or was deleted. "
            "Check its status with get_workflow_run."
        )
    return JobLog(
        job_id=job_id,
        name=clean(text(job.data, "name")),
        conclusion=text(job.data, "conclusion"),
        failed_step=failed_step(job.data, clean),
        errors=log.errors,
        total_lines=log.total,
        tail=log.tail,
        sanitised=clean.removed,
        note=log.note(text(job.data, "html_url")),
    )


@actions.write(title="Re-run failed jobs", destructive=False, idempotent=False, open_world=True)
async def rerun_failed_jobs(
    deps: GitHubDeps, owner: Owner, repo: Repo, run_id: RunId, idempotency_key: Key = None
) -> RunRequested:
    """Re-run the failed jobs of a completed run as a new attempt. Each call without a repeated
    idempotency_key starts another attempt."""

    async def rerun() -> RunRequested:
        await deps.github.request("POST", repo_path(owner, repo, "actions", "runs", run_id, "rerun-failed-jobs"))
        message = "Re-run requested as a new attempt of this run; follow it with get_workflow_run."
        return RunRequested(run_id=run_id, message=message)

    request = {"owner": owner, "repo": repo, "run_id": run_id}
    return await deps.idempotency.once(
        tool="rerun_failed_jobs", key=idempotency_key, request=request, action=rerun, result_type=RunRequested
    )


@actions.write(title="Cancel a workflow run", destructive=True, idempotent=True, open_world=True)
async def cancel_workflow_run(deps: GitHubDeps, owner: Owner, repo: Repo, run_id: RunId) -> RunRequested:
    """Cancel a queued or running workflow run; its unfinished jobs stop."""
    try:
        await deps.github.request("POST", repo_path(owner, repo, "actions", "runs", run_id, "cancel"))
    except Conflict:
        raise Conflict(
            f"Workflow run {run_id} has already completed, so it cannot be cancelled (GitHub answered HTTP 409). "
            "Nothing was changed; get_workflow_run shows how it ended."
        ) from None
    return RunRequested(
        run_id=run_id,
        message="Cancellation requested; the run stops within seconds. Check it with get_workflow_run.",
    )


@actions.write(title="Dispatch a workflow", destructive=False, idempotent=False, open_world=True)
async def dispatch_workflow(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    workflow: Annotated[str, Field(description="Workflow file (ci.yml) or id.")],
    ref: Annotated[str, Field(description="Branch or tag to run on.")],
    inputs: Annotated[dict[str, str] | None, Field(description="Workflow inputs.")] = None,
    idempotency_key: Key = None,
) -> WorkflowDispatched:
    """Start a workflow_dispatch workflow on a branch or tag; the answer says how to find the new run."""
    path = f"{repo_path(owner, repo, 'actions')}/workflows/{workflow_segment(workflow)}/dispatches"
    body: dict[str, Any] = {"ref": ref} | ({"inputs": inputs} if inputs else {})

    async def dispatch() -> WorkflowDispatched:
        answer = await deps.github.request("POST", path, json=body)
        run_id = number(answer.data, "workflow_run_id")
        branch = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        found = (
            f"It is run {run_id}; follow it with get_workflow_run."
            if run_id
            else f"GitHub does not say the new run's id: call list_workflow_runs with branch={branch} and "
            "event=workflow_dispatch in a few seconds to find it."
        )
        return WorkflowDispatched(
            workflow=workflow, ref=ref, run_id=run_id, replayed=False, message=f"Dispatched. {found}"
        )

    request = {"owner": owner, "repo": repo, "workflow": workflow, "ref": ref, "inputs": inputs or {}}
    return await deps.idempotency.once(
        tool="dispatch_workflow", key=idempotency_key, request=request, action=dispatch, result_type=WorkflowDispatched
    )
