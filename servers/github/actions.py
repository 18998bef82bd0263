"""GitHub Actions for the ``actions`` toolset: runs, jobs and their steps as compact answers, and job logs read
for what an agent needs (the last lines, the ``##[error]`` lines, the step that failed).

A job log is read as it downloads, never held whole: only the lines an answer shows are kept (the last ones, the
first ``##[error]`` ones), and reading stops after :data:`MAX_LOG_BYTES`, which the answer then says.

A job log is text written by whatever the job ran, so it is read as untrusted and redacted: ANSI colour codes
and GitHub's per-line timestamps are dropped (they cost tokens and say nothing), invisible characters are
removed (:class:`Untrusted`), secret-looking values are replaced (:func:`redact_text`), including the lines of
a PEM private key block, and very long lines are cut.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from servers.github.models import Untrusted, as_dict, as_list, number, text
from servers.github.paths import segment
from shared.errors import NotFound, UpstreamError
from shared.redaction import REDACTED, redact_text

if TYPE_CHECKING:
    from servers.github.client import GitHubClient

__all__ = [
    "FAILED",
    "MAX_LOG_BYTES",
    "Job",
    "JobLog",
    "LogReader",
    "RunRequested",
    "Step",
    "WorkflowDispatched",
    "WorkflowRun",
    "WorkflowRunDetail",
    "WorkflowRuns",
    "failed_step",
    "job_of",
    "read_job_log",
    "run_of",
    "workflow_segment",
]

MAX_ERRORS = 20  # ##[error] lines returned
MAX_LINE = 1000  # characters of one log line
_REDACT_SPAN = MAX_LINE * 8  # characters of a line redacted before it is cut (a cut must not split a secret)
_MAX_RAW_LINE = _REDACT_SPAN * 4  # characters of a line kept while it arrives (timestamp and colour codes too)
MAX_LOG_BYTES = 64 * 1024 * 1024  # bytes of a job log read; past them the answer says the log was cut
FAILED = frozenset({"failure", "timed_out", "startup_failure"})  # conclusions of a job or step that failed

_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_ERROR = "##[error]"
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")


# -- answers ---------------------------------------------------------------------------------------------------


class WorkflowRun(BaseModel):
    """One workflow run."""

    id: int = Field(description="Run id.")
    workflow: str | None = Field(description="Workflow name.")
    title: str | None = Field(description="Run title (commit message or PR title).")
    branch: str | None = Field(description="Head branch.")
    head_sha: str | None = Field(description="Head commit SHA.")
    event: str | None = Field(description="Triggering event.")
    status: str | None = Field(description="queued, in_progress, completed...")
    conclusion: str | None = Field(description="success, failure, cancelled... (null until completed).")
    run_number: int | None = Field(description="Run number in its workflow.")
    attempt: int | None = Field(description="Attempt (re-runs count up).")
    created_at: str | None = Field(description="Created (ISO 8601).")
    updated_at: str | None = Field(description="Last updated (ISO 8601).")
    html_url: str | None = Field(description="Web page.")


class WorkflowRuns(BaseModel):
    """A page of workflow runs, newest first."""

    items: list[WorkflowRun] = Field(description="Runs.")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last.")
    sanitised: bool = Field(description="Hidden characters were removed from titles.")


class Step(BaseModel):
    """One step of a job."""

    number: int | None = Field(description="Step number.")
    name: str | None = Field(description="Step name.")
    status: str | None = Field(description="queued, in_progress, completed.")
    conclusion: str | None = Field(description="success, failure, skipped...")


class Job(BaseModel):
    """One job of a run, with its steps."""

    id: int = Field(description="Job id (for get_job_log).")
    name: str | None = Field(description="Job name.")
    status: str | None = Field(description="queued, in_progress, completed...")
    conclusion: str | None = Field(description="success, failure, skipped...")
    failed_step: str | None = Field(description="First failed step, if any.")
    steps: list[Step] = Field(description="Steps in order.")


class WorkflowRunDetail(WorkflowRun):
    """A workflow run and the jobs of its latest attempt."""

    failed_jobs: list[int] = Field(description="Ids of the jobs that failed (for get_job_log).")
    jobs: list[Job] = Field(description="Jobs of the latest attempt (at most 300).")
    only_failed_steps: bool = Field(description="Over 20 jobs: steps are listed for failed jobs only.")
    sanitised: bool = Field(description="Hidden characters were removed from names or titles.")


class JobLog(BaseModel):
    """The end of a job's log, with its errors and the step that failed."""

    job_id: int = Field(description="Job id.")
    name: str | None = Field(description="Job name.")
    conclusion: str | None = Field(description="success, failure... (null while running).")
    failed_step: str | None = Field(description="First failed step (number and name), if any.")
    errors: list[str] = Field(description=f"##[error] lines of the whole log (first {MAX_ERRORS}).")
    total_lines: int = Field(description="Lines in the whole log (in the part read, when note is set).")
    tail: str = Field(description="The last lines, timestamps removed, secrets redacted.")
    sanitised: bool = Field(description="Hidden characters were removed.")
    note: str | None = Field(default=None, description="Set when the log was too large to read whole.")


class RunRequested(BaseModel):
    """A request GitHub accepted for a workflow run."""

    run_id: int = Field(description="Run id.")
    message: str = Field(description="What happens now and what to call next.")
    replayed: bool = Field(default=False, description="True when an earlier call with this idempotency_key made it.")


class WorkflowDispatched(BaseModel):
    """A workflow dispatch GitHub accepted."""

    workflow: str = Field(description="Workflow dispatched.")
    ref: str = Field(description="Branch or tag it runs on.")
    run_id: int | None = Field(description="The new run's id, when GitHub says it.")
    replayed: bool = Field(description="This key was used before: the first call's answer, nothing started.")
    message: str = Field(description="What happens now and what to call next.")


# -- reading GitHub's JSON -------------------------------------------------------------------------------------


def workflow_segment(workflow: str) -> str:
    """A workflow id, or its file name (a path such as ``.github/workflows/ci.yml`` is cut to ``ci.yml``)."""
    name = workflow.strip().rstrip("/").rsplit("/", 1)[-1]
    return segment(name or workflow)


def run_of(data: Any, clean: Untrusted) -> dict[str, Any]:
    """The fields of :class:`WorkflowRun` from GitHub's run object."""
    return {
        "id": number(data, "id") or 0,
        "workflow": clean(text(data, "name")),
        "title": clean(text(data, "display_title")),
        "branch": clean(text(data, "head_branch")),
        "head_sha": text(data, "head_sha"),
        "event": text(data, "event"),
        "status": text(data, "status"),
        "conclusion": text(data, "conclusion"),
        "run_number": number(data, "run_number"),
        "attempt": number(data, "run_attempt"),
        "created_at": text(data, "created_at"),
        "updated_at": text(data, "updated_at"),
        "html_url": text(data, "html_url"),
    }


def failed_step(job: Any, clean: Untrusted) -> str | None:
    """``"<number> <name>"`` of the first step of ``job`` that failed, if one did."""
    for step in as_list(as_dict(job).get("steps")):
        if text(step, "conclusion") in FAILED:
            step_number = number(step, "number")
            name = clean(text(step, "name")) or "?"
            return f"{step_number} {name}" if step_number is not None else name
    return None


def job_of(data: Any, clean: Untrusted) -> Job:
    steps = [
        Step(
            number=number(step, "number"),
            name=clean(text(step, "name")),
            status=text(step, "status"),
            conclusion=text(step, "conclusion"),
        )
        for step in as_list(as_dict(data).get("steps"))
    ]
    return Job(
        id=number(data, "id") or 0,
        name=clean(text(data, "name")),
        status=text(data, "status"),
        conclusion=text(data, "conclusion"),
        failed_step=failed_step(data, clean),
        steps=steps,
    )


# -- job logs --------------------------------------------------------------------------------------------------


class LogReader:
    """A job log read piece by piece as it arrives, keeping only what an answer shows, so memory stays bounded
    whatever the log's size: the first :data:`MAX_ERRORS` ``##[error]`` lines (shown), the last ``tail_lines``
    lines (each cut to the span redaction reads), the number of lines, whether a private key block is open, and
    the start of the line still arriving (at most :data:`_MAX_RAW_LINE` characters)."""

    def __init__(self, tail_lines: int, clean: Untrusted) -> None:
        self.clean = clean
        self.errors: list[str] = []
        self.total = 0
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._in_key = False
        self._pending: list[str] = []
        self._pending_size = 0
        self.complete = False  # read to its end (set by read_job_log)

    def feed(self, piece: str) -> None:
        """Read the next piece of the log (any size; a line may span pieces)."""
        *ended, rest = piece.split("\n")
        for part in ended:
            self._keep(part)
            self._line("".join(self._pending))
            self._pending.clear()
            self._pending_size = 0
        self._keep(rest)

    def finish(self) -> None:
        """The log has ended: its last line, when it has no line break, counts too."""
        if self._pending_size:
            self._line("".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def note(self, page: str | None) -> str | None:
        """What the answer must say when the log was cut at :data:`MAX_LOG_BYTES` (``page``: the job's page)."""
        if self.complete:
            return None
        size = f"{MAX_LOG_BYTES // 2**20} MB"
        where = f" ({page})" if page else ""
        return (
            f"The log is larger than {size}; only its first {size} were read, so tail is not the log's end and "
            f"errors and total_lines cover that part only. The whole log is on the job's page{where}."
        )

    @property
    def tail(self) -> str:
        """The last lines as one text, fit to show."""
        return "\n".join(_shown(line, self.clean) for line in self._tail)

    def _keep(self, part: str) -> None:
        room = _MAX_RAW_LINE - self._pending_size
        if part and room > 0:
            part = part[:room]
            self._pending.append(part)
            self._pending_size += len(part)

    def _line(self, raw: str) -> None:
        self.total += 1
        line = _plain(raw.rstrip("\r"))
        if self._in_key or _PEM_BEGIN.search(line):
            # A private key block spans lines; a line-by-line redaction would show its body.
            self._in_key = not _PEM_END.search(line)
            line = REDACTED
        if _ERROR in line and len(self.errors) < MAX_ERRORS:
            self.errors.append(_shown(line.split(_ERROR, 1)[1].strip(), self.clean))
        self._tail.append(line[:_REDACT_SPAN])  # all that _shown reads of it


async def read_job_log(client: GitHubClient, path: str, tail_lines: int, clean: Untrusted) -> LogReader | None:
    """The job log at ``path`` read as it downloads (GitHub redirects to a download URL; the redirect is
    followed), at most :data:`MAX_LOG_BYTES` bytes; None when GitHub has none (404 or 410: not started, still
    running on some servers, expired or deleted). ``complete`` on the answer says whether it was read to its end.
    """
    reader = LogReader(tail_lines, clean)
    try:
        reader.complete = await client.request_chunks("GET", path, reader.feed, max_bytes=MAX_LOG_BYTES)
    except NotFound:
        return None
    except UpstreamError as error:
        if error.status == 410:  # gone: the log expired or was deleted
            return None
        raise
    reader.finish()
    return reader


def _plain(line: str) -> str:
    """A log line without its timestamp and colour codes."""
    line = _TIMESTAMP.sub("", line, count=1)
    return _ANSI.sub("", line) if "\x1b" in line else line


def _shown(line: str, clean: Untrusted) -> str:
    """A line fit to show: hidden characters removed, secrets redacted, at most ``MAX_LINE`` characters."""
    shown = redact_text(clean(line[:_REDACT_SPAN]) or "")
    return shown if len(shown) <= MAX_LINE else shown[: MAX_LINE - 1] + "…"
