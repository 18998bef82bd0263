"""The fake's Actions endpoints: workflows, workflow runs, their jobs and job logs, re-runs, cancels, dispatches.

Tests seed ``FakeRepo.workflows``, ``runs``, ``jobs`` and ``logs`` (job id -> log text) with :func:`add_workflow`,
:func:`add_run` and :func:`add_job`, or directly with dicts of the same keys. Stored records hold only what
varies; answers are built from them in GitHub's shapes and validated by githubkit's models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.github_fake.app import answer, body_of, found_repo, not_found, page, state_of
from tests.github_fake.git import head
from tests.github_fake.payloads import NOW, iso, shaped, simple_user
from tests.github_fake.state import FakeGitHub, FakeRepo, next_id

__all__ = ["ROUTES", "add_job", "add_run", "add_workflow"]


# -- seeding ---------------------------------------------------------------------------------------------------


def add_workflow(repo: FakeRepo, path: str, name: str | None = None, *, dispatchable: bool = True) -> int:
    """A workflow at ``path`` (``.github/workflows/ci.yml``); ``dispatchable``: it has a workflow_dispatch trigger."""
    workflow_id = next_id()
    repo.workflows[workflow_id] = {
        "id": workflow_id,
        "name": name or path.rsplit("/", 1)[-1],
        "path": path,
        "state": "active",
        "dispatchable": dispatchable,
    }
    return workflow_id


def add_run(
    repo: FakeRepo,
    workflow_id: int,
    *,
    title: str = "Fix the checkout",
    branch: str | None = None,
    event: str = "push",
    status: str = "completed",
    conclusion: str | None = "success",
    created_minutes_ago: int = 0,
    actor: str = "octocat",
) -> int:
    """A run of ``workflow_id`` on ``branch`` (default: the default branch) at its head commit."""
    run_id = next_id()
    branch = branch or repo.default_branch
    number = 1 + sum(1 for run in repo.runs.values() if run["workflow_id"] == workflow_id)
    created = iso(NOW - timedelta(minutes=created_minutes_ago))
    repo.runs[run_id] = {
        "id": run_id,
        "workflow_id": workflow_id,
        "display_title": title,
        "head_branch": branch,
        "head_sha": head(repo, branch) or "0" * 40,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "run_number": number,
        "run_attempt": 1,
        "created_at": created,
        "updated_at": created,
        "actor": actor,
    }
    return run_id


def add_job(
    repo: FakeRepo,
    run_id: int,
    name: str,
    steps: Sequence[tuple[str, str | None]],
    *,
    status: str = "completed",
    log: str | None = None,
) -> int:
    """A job of ``run_id`` whose ``steps`` are (name, conclusion); its conclusion is the first failure's, if any.

    ``log`` is its log text (GitHub's: a timestamp before each line).
    """
    job_id = next_id()
    conclusions = [conclusion for _, conclusion in steps]
    failed = next((c for c in conclusions if c in ("failure", "timed_out", "cancelled")), None)
    repo.jobs[job_id] = {
        "id": job_id,
        "run_id": run_id,
        "run_attempt": repo.runs[run_id]["run_attempt"],
        "name": name,
        "status": status,
        "conclusion": (failed or "success") if status == "completed" else None,
        "steps": [
            {
                "name": step,
                "number": number,
                "status": "completed" if conclusion else "queued",
                "conclusion": conclusion,
            }
            for number, (step, conclusion) in enumerate(steps, start=1)
        ],
    }
    if log is not None:
        repo.logs[job_id] = log
    return job_id


# -- shapes ----------------------------------------------------------------------------------------------------


def _minimal_repository(state: FakeGitHub, repo: FakeRepo) -> dict[str, Any]:
    return shaped(
        "MinimalRepository",
        {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": simple_user(state, repo.owner),
            "private": repo.private,
            "html_url": f"https://github.test/{repo.full_name}",
            "description": repo.description,
            "fork": False,
        },
        f"{state.base_url}/repos/{repo.full_name}",
    )


def _workflow(state: FakeGitHub, repo: FakeRepo, workflow: dict[str, Any]) -> dict[str, Any]:
    return shaped(
        "Workflow",
        {
            "id": workflow["id"],
            "node_id": f"W_{workflow['id']}",
            "name": workflow["name"],
            "path": workflow["path"],
            "state": workflow.get("state", "active"),
            "created_at": iso(NOW - timedelta(days=30)),
            "updated_at": iso(NOW - timedelta(days=30)),
            "html_url": f"https://github.test/{repo.full_name}/blob/main/{workflow['path']}",
        },
        f"{state.base_url}/repos/{repo.full_name}/actions/workflows/{workflow['id']}",
    )


def _run(state: FakeGitHub, repo: FakeRepo, run: dict[str, Any]) -> dict[str, Any]:
    workflow = repo.workflows.get(run["workflow_id"], {"name": "?", "path": ".github/workflows/unknown.yml"})
    minimal = _minimal_repository(state, repo)
    actor = simple_user(state, run.get("actor", "octocat"))
    return shaped(
        "WorkflowRun",
        {
            "id": run["id"],
            "name": workflow["name"],
            "node_id": f"WFR_{run['id']}",
            "check_suite_id": run["id"] + 1,
            "head_branch": run.get("head_branch"),
            "head_sha": run.get("head_sha", "0" * 40),
            "path": workflow["path"],
            "run_number": run.get("run_number", 1),
            "run_attempt": run.get("run_attempt", 1),
            "event": run.get("event", "push"),
            "status": run.get("status"),
            "conclusion": run.get("conclusion"),
            "workflow_id": run["workflow_id"],
            "html_url": f"https://github.test/{repo.full_name}/actions/runs/{run['id']}",
            "pull_requests": [],
            "created_at": run.get("created_at", iso()),
            "updated_at": run.get("updated_at", iso()),
            "actor": actor,
            "triggering_actor": actor,
            "run_started_at": run.get("created_at", iso()),
            "head_commit": None,
            "repository": minimal,
            "head_repository": minimal,
            "display_title": run.get("display_title", ""),
        },
        f"{state.base_url}/repos/{repo.full_name}/actions/runs/{run['id']}",
    )


def _job(state: FakeGitHub, repo: FakeRepo, job: dict[str, Any]) -> dict[str, Any]:
    run = repo.runs.get(job["run_id"], {})
    workflow = repo.workflows.get(run.get("workflow_id", 0), {"name": None})
    return shaped(
        "Job",
        {
            "id": job["id"],
            "run_id": job["run_id"],
            "run_url": f"{state.base_url}/repos/{repo.full_name}/actions/runs/{job['run_id']}",
            "run_attempt": job.get("run_attempt", 1),
            "node_id": f"CR_{job['id']}",
            "head_sha": run.get("head_sha", "0" * 40),
            "html_url": f"https://github.test/{repo.full_name}/actions/runs/{job['run_id']}/job/{job['id']}",
            "status": job.get("status", "completed"),
            "conclusion": job.get("conclusion"),
            "created_at": run.get("created_at", iso()),
            "started_at": run.get("created_at", iso()),
            "completed_at": iso() if job.get("status", "completed") == "completed" else None,
            "name": job["name"],
            "steps": job.get("steps", []),
            "labels": ["ubuntu-latest"],
            "runner_id": 1,
            "runner_name": "GitHub Actions 1",
            "runner_group_id": 1,
            "runner_group_name": "GitHub Actions",
            "workflow_name": workflow["name"],
            "head_branch": run.get("head_branch"),
        },
        f"{state.base_url}/repos/{repo.full_name}/actions/jobs/{job['id']}",
    )


# -- endpoints -------------------------------------------------------------------------------------------------


def _find_workflow(repo: FakeRepo, key: str) -> dict[str, Any] | None:
    """A workflow by id or by file name, as GitHub accepts either in the path."""
    for workflow in repo.workflows.values():
        if str(workflow["id"]) == key or workflow["path"].rsplit("/", 1)[-1] == key:
            return workflow
    return None


def _int(request: Request, name: str) -> int | None:
    value = request.path_params[name]
    return int(value) if value.isdigit() else None


async def list_workflows(request: Request) -> Response:
    repo = found_repo(request)
    if repo is None:
        return not_found()
    state = state_of(request)
    workflows = [_workflow(state, repo, workflow) for workflow in repo.workflows.values()]
    return answer(
        shaped("ReposOwnerRepoActionsWorkflowsGetResponse200", {"total_count": len(workflows), "workflows": workflows})
    )


async def get_workflow(request: Request) -> Response:
    repo = found_repo(request)
    workflow = _find_workflow(repo, request.path_params["workflow"]) if repo else None
    if repo is None or workflow is None:
        return not_found()
    return answer(_workflow(state_of(request), repo, workflow))


async def list_runs(request: Request) -> Response:
    repo = found_repo(request)
    if repo is None:
        return not_found()
    runs = list(repo.runs.values())
    if "workflow" in request.path_params:
        workflow = _find_workflow(repo, request.path_params["workflow"])
        if workflow is None:
            return not_found()
        runs = [run for run in runs if run["workflow_id"] == workflow["id"]]
    query = request.query_params
    if "branch" in query:
        runs = [run for run in runs if run.get("head_branch") == query["branch"]]
    if "event" in query:
        runs = [run for run in runs if run.get("event") == query["event"]]
    if "status" in query:  # GitHub's status filter takes a status or a conclusion
        runs = [run for run in runs if query["status"] in (run.get("status"), run.get("conclusion"))]
    runs.sort(key=lambda run: (run.get("created_at", ""), run["id"]), reverse=True)
    state = state_of(request)
    listed = page(request, runs)
    chunk = [_run(state, repo, run) for run in _decoded(listed)]
    total = len(runs)
    body = shaped("ReposOwnerRepoActionsRunsGetResponse200", {"total_count": total, "workflow_runs": chunk})
    return answer(body, headers={k: v for k, v in listed.headers.items() if k == "link"})


def _decoded(response: Response) -> list[dict[str, Any]]:
    import json

    return json.loads(bytes(response.body))


def _found_run(request: Request) -> tuple[FakeRepo, dict[str, Any]] | None:
    repo = found_repo(request)
    run_id = _int(request, "run_id")
    if repo is None or run_id is None or run_id not in repo.runs:
        return None
    return repo, repo.runs[run_id]


async def get_run(request: Request) -> Response:
    found = _found_run(request)
    if found is None:
        return not_found()
    repo, run = found
    return answer(_run(state_of(request), repo, run))


async def list_run_jobs(request: Request) -> Response:
    found = _found_run(request)
    if found is None:
        return not_found()
    repo, run = found
    state = state_of(request)
    jobs = [job for job in repo.jobs.values() if job["run_id"] == run["id"]]
    if request.query_params.get("filter", "latest") == "latest":
        jobs = [job for job in jobs if job.get("run_attempt", 1) == run.get("run_attempt", 1)]
    listed = page(request, jobs)
    chunk = [_job(state, repo, job) for job in _decoded(listed)]
    body = shaped("ReposOwnerRepoActionsRunsRunIdJobsGetResponse200", {"total_count": len(jobs), "jobs": chunk})
    return answer(body, headers={k: v for k, v in listed.headers.items() if k == "link"})


def _found_job(request: Request) -> tuple[FakeRepo, dict[str, Any]] | None:
    repo = found_repo(request)
    job_id = _int(request, "job_id")
    if repo is None or job_id is None or job_id not in repo.jobs:
        return None
    return repo, repo.jobs[job_id]


async def get_job(request: Request) -> Response:
    found = _found_job(request)
    if found is None:
        return not_found()
    repo, job = found
    return answer(_job(state_of(request), repo, job))


async def job_logs(request: Request) -> Response:
    """GitHub answers 302 to a short-lived download URL; the fake's points back at itself."""
    found = _found_job(request)
    if found is None or found[1]["id"] not in found[0].logs:
        return not_found()
    repo, job = found
    return RedirectResponse(f"/_downloads/{repo.full_name}/jobs/{job['id']}/log.txt?sig=fake", status_code=302)


async def download_log(request: Request) -> Response:
    found = _found_job(request)
    if found is None or found[1]["id"] not in found[0].logs:
        return PlainTextResponse("Not Found", status_code=404)
    repo, job = found
    return PlainTextResponse(repo.logs[job["id"]])


async def rerun_failed_jobs(request: Request) -> Response:
    found = _found_run(request)
    if found is None:
        return not_found()
    repo, run = found
    if run.get("status") != "completed":
        return answer({"message": "This workflow is already running"}, 403)
    attempt = run.get("run_attempt", 1)
    failed = [
        job
        for job in repo.jobs.values()
        if job["run_id"] == run["id"] and job.get("run_attempt", 1) == attempt and job.get("conclusion") != "success"
    ]
    run.update(status="queued", conclusion=None, run_attempt=attempt + 1, updated_at=iso())
    for job in failed:
        rerun = dict(job, id=next_id(), run_attempt=attempt + 1, status="queued", conclusion=None)
        rerun["steps"] = [dict(step, status="queued", conclusion=None) for step in job.get("steps", [])]
        repo.jobs[rerun["id"]] = rerun
    return answer({}, 201)


async def cancel_run(request: Request) -> Response:
    found = _found_run(request)
    if found is None:
        return not_found()
    _, run = found
    if run.get("status") == "completed":
        return answer(
            {
                "message": "Cannot cancel a workflow run that is completed.",
                "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run",
            },
            409,
        )
    run.update(status="completed", conclusion="cancelled", updated_at=iso())
    return answer({}, 202)


async def dispatch(request: Request) -> Response:
    repo = found_repo(request)
    workflow = _find_workflow(repo, request.path_params["workflow"]) if repo else None
    if repo is None or workflow is None:
        return not_found()
    body = await body_of(request)
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref:
        return answer({"message": 'Invalid request.\n\n"ref" wasn\'t supplied.'}, 422)
    branch = ref.removeprefix("refs/heads/")
    if head(repo, branch) is None and branch not in repo.tags:
        return answer({"message": f"No ref found for: {ref}"}, 422)
    if not workflow.get("dispatchable", True):
        return answer({"message": "Workflow does not have 'workflow_dispatch' trigger"}, 422)
    run_id = add_run(
        repo,
        workflow["id"],
        title=workflow["name"],
        branch=branch,
        event="workflow_dispatch",
        status="queued",
        conclusion=None,
        actor=request.scope["github_login"],
    )
    repo.runs[run_id]["inputs"] = body.get("inputs") or {}
    if repo.extra.get("dispatch_returns_run"):  # newer GitHub answers with the run's id
        state = state_of(request)
        details = {
            "workflow_run_id": run_id,
            "run_url": f"{state.base_url}/repos/{repo.full_name}/actions/runs/{run_id}",
            "html_url": f"https://github.test/{repo.full_name}/actions/runs/{run_id}",
        }
        return answer(shaped("WorkflowDispatchResponse", details))
    return answer(None, 204)


_REPO = "/repos/{owner}/{repo}/actions"

ROUTES = [
    Route(f"{_REPO}/workflows", list_workflows),
    Route(f"{_REPO}/workflows/{{workflow}}", get_workflow),
    Route(f"{_REPO}/workflows/{{workflow}}/runs", list_runs),
    Route(f"{_REPO}/workflows/{{workflow}}/dispatches", dispatch, methods=["POST"]),
    Route(f"{_REPO}/runs", list_runs),
    Route(f"{_REPO}/runs/{{run_id}}", get_run),
    Route(f"{_REPO}/runs/{{run_id}}/jobs", list_run_jobs),
    Route(f"{_REPO}/runs/{{run_id}}/rerun-failed-jobs", rerun_failed_jobs, methods=["POST"]),
    Route(f"{_REPO}/runs/{{run_id}}/cancel", cancel_run, methods=["POST"]),
    Route(f"{_REPO}/jobs/{{job_id}}", get_job),
    Route(f"{_REPO}/jobs/{{job_id}}/logs", job_logs),
    Route("/_downloads/{owner}/{repo}/jobs/{job_id}/log.txt", download_log),
]
