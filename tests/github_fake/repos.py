"""The fake's repository endpoints: repositories, branches, git refs/blobs/trees/commits, contents, commits,
compare, tags, releases and code search.

Answers follow GitHub's behaviour where the server depends on it: creating an existing ref is 422 "Reference
already exists", a ref update that is not a fast forward (without ``force``) is 422 "Update is not a fast
forward", deleting a missing ref is 422 "Reference does not exist", writing an existing file without its
``sha`` is 422 and with a stale one 409, and files over 1 MB come from the contents API without their content
(``encoding: none``; read them as blobs).

Tests can run code in the middle of a request: ``repo.extra["before_ref_update"]`` (a callable taking the
repository) runs when a ref update arrives, before it is checked: another writer moving the branch.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.github_fake.app import answer, body_of, found_repo, not_found, page, state_of
from tests.github_fake.git import (
    add_blob,
    add_commit,
    ancestors,
    diff,
    encoded,
    files_at,
    head,
    is_text,
    resolve,
)
from tests.github_fake.payloads import iso, repository, shaped, simple_user
from tests.github_fake.state import FakeGitHub, FakeRepo, sha_of

__all__ = ["ROUTES", "release"]

LARGE = 1024 * 1024  # the contents API leaves out the content of larger files


class _CommitRef(Convertor[str]):
    """A ref in ``commits/{ref}`` (slashes allowed) that leaves a commit's sub-resources to other areas."""

    regex = ".+" + "".join(
        f"(?<!/{tail})" for tail in ("check-runs", "check-suites", "status", "statuses", "comments", "pulls")
    )

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("commitref", _CommitRef())


def _invalid(message: str, status: int = 422) -> Response:
    return answer({"message": message, "documentation_url": "https://docs.github.com/rest"}, status)


def _api(state: FakeGitHub, repo: FakeRepo, rest: str) -> str:
    return f"{state.base_url}/repos/{repo.full_name}/{rest}"


def _html(repo: FakeRepo, rest: str) -> str:
    return f"https://github.test/{repo.full_name}/{rest}"


def _repo_or_none(request: Request) -> tuple[FakeGitHub, FakeRepo | None]:
    return state_of(request), found_repo(request)


# -- repositories -------------------------------------------------------------------------------------------------


def _listing(state: FakeGitHub, repo: FakeRepo, model: str) -> dict[str, Any]:
    return shaped(model, repository(state, repo), f"{state.base_url}/repos/{repo.full_name}")


async def get_repo(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    return not_found() if repo is None else answer(repository(state, repo))


async def list_own_repos(request: Request) -> Response:
    state = state_of(request)
    login = request.scope["github_login"]
    repos = sorted(state.repos.values(), key=lambda repo: (repo.owner != login, repo.full_name))
    return page(request, [_listing(state, repo, "Repository") for repo in repos])


async def list_org_repos(request: Request) -> Response:
    state = state_of(request)
    org = request.path_params["owner"]
    if org in state.tokens.values() or org not in state.users:  # a user with a token is not an organisation
        return not_found()
    return page(request, [_listing(state, r, "MinimalRepository") for r in state.repos.values() if r.owner == org])


async def list_user_repos(request: Request) -> Response:
    state = state_of(request)
    user = request.path_params["owner"]
    if user not in state.users:
        return not_found()
    return page(request, [_listing(state, r, "MinimalRepository") for r in state.repos.values() if r.owner == user])


# -- branches -----------------------------------------------------------------------------------------------------


def _branches(repo: FakeRepo) -> list[tuple[str, str]]:
    return sorted((ref.removeprefix("heads/"), sha) for ref, sha in repo.refs.items() if ref.startswith("heads/"))


async def list_branches(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    items = [
        shaped(
            "BranchShort",
            {
                "name": name,
                "commit": {"sha": sha, "url": _api(state, repo, f"commits/{sha}")},
                "protected": name in repo.required_checks,
            },
        )
        for name, sha in _branches(repo)
    ]
    return page(request, items)


async def get_branch(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    name = request.path_params["branch"]
    sha = head(repo, name) if repo else None
    if repo is None or sha is None:
        return _invalid("Branch not found", 404)
    payload = {
        "name": name,
        "commit": _commit(state, repo, sha),
        "_links": {"html": _html(repo, f"tree/{name}"), "self": _api(state, repo, f"branches/{name}")},
        "protected": name in repo.required_checks,
        "protection": {"enabled": name in repo.required_checks},
    }
    return answer(shaped("BranchWithProtection", payload))


# -- git refs -----------------------------------------------------------------------------------------------------


def _ref(state: FakeGitHub, repo: FakeRepo, ref: str) -> dict[str, Any]:
    sha = repo.refs[ref]
    return shaped(
        "GitRef",
        {
            "ref": f"refs/{ref}",
            "node_id": f"REF_{sha_of(repo.full_name, ref)[:12]}",
            "url": _api(state, repo, f"git/refs/{ref}"),
            "object": {"type": "commit", "sha": sha, "url": _api(state, repo, f"git/commits/{sha}")},
        },
    )


async def get_ref(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    ref = request.path_params["ref"]
    if repo is None or ref not in repo.refs:
        return not_found()
    return answer(_ref(state, repo, ref))


async def create_ref(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    body = await body_of(request)
    ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
    if not re.match(r"^refs/(heads|tags)/[^\s~^:?*\[\\]+$", ref) or ".." in ref or ref.endswith(("/", ".lock")):
        return _invalid("Reference name is invalid")
    if sha not in repo.commits:
        return _invalid("Object does not exist")
    key = ref.removeprefix("refs/")
    if key in repo.refs:
        return _invalid("Reference already exists")
    repo.refs[key] = sha
    return answer(_ref(state, repo, key), 201)


async def update_ref(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    ref = request.path_params["ref"]
    if repo is None:
        return not_found()
    hook: Callable[[FakeRepo], object] | None = repo.extra.pop("before_ref_update", None)
    if hook is not None:
        hook(repo)
    body = await body_of(request)
    sha = str(body.get("sha", ""))
    if ref not in repo.refs:
        return _invalid("Reference does not exist")
    if sha not in repo.commits:
        return _invalid("Object does not exist")
    if not body.get("force") and repo.refs[ref] not in ancestors(repo, sha):
        return _invalid("Update is not a fast forward")
    repo.refs[ref] = sha
    return answer(_ref(state, repo, ref))


async def delete_ref(request: Request) -> Response:
    _, repo = _repo_or_none(request)
    ref = request.path_params["ref"]
    if repo is None:
        return not_found()
    if ref not in repo.refs:
        return _invalid("Reference does not exist")
    del repo.refs[ref]
    return answer(None, 204)


# -- git blobs, trees, commits -------------------------------------------------------------------------------------


async def create_blob(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    body = await body_of(request)
    content = str(body.get("content", ""))
    data = base64.b64decode(content) if body.get("encoding") == "base64" else content.encode()
    sha = add_blob(repo, data)
    return answer(shaped("ShortBlob", {"sha": sha, "url": _api(state, repo, f"git/blobs/{sha}")}), 201)


async def get_blob(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    sha = request.path_params["sha"]
    if repo is None or sha not in repo.blobs:
        return not_found()
    data = repo.blobs[sha]
    payload = {
        "content": encoded(data),
        "encoding": "base64",
        "url": _api(state, repo, f"git/blobs/{sha}"),
        "sha": sha,
        "size": len(data),
        "node_id": f"B_{sha[:12]}",
    }
    return answer(shaped("Blob", payload))


def _tree(state: FakeGitHub, repo: FakeRepo, sha: str) -> dict[str, Any]:
    entries = [
        {**entry, "size": len(repo.blobs.get(entry["sha"], b"")), "url": _api(state, repo, f"git/blobs/{entry['sha']}")}
        for entry in repo.trees[sha]
    ]
    return shaped(
        "GitTree", {"sha": sha, "url": _api(state, repo, f"git/trees/{sha}"), "truncated": False, "tree": entries}
    )


async def create_tree(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    body = await body_of(request)
    base = body.get("base_tree")
    if base is not None and base not in repo.trees:
        return _invalid("Invalid tree info")
    files = {entry["path"]: entry["sha"] for entry in repo.trees[base]} if base else {}
    for entry in body.get("tree") or []:
        path = str(entry.get("path", ""))
        if not path or path.startswith("/") or path.endswith("/"):
            return _invalid("tree.path contains a malformed path component")
        if "content" in entry:
            files[path] = add_blob(repo, str(entry["content"]).encode())
        elif entry.get("sha") is None:
            files.pop(path, None)
        elif entry["sha"] in repo.blobs:
            files[path] = entry["sha"]
        else:
            return _invalid(f"tree.sha {entry['sha']} is not a valid blob")
    entries = [{"path": p, "mode": "100644", "type": "blob", "sha": s} for p, s in sorted(files.items())]
    sha = sha_of("tree", tuple((e["path"], e["sha"]) for e in entries))
    repo.trees[sha] = entries
    return answer(_tree(state, repo, sha), 201)


async def get_tree(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    sha = request.path_params["sha"]
    if repo is None:
        return not_found()
    tree = repo.trees.get(sha) or (repo.trees.get(repo.commits[sha]["tree"]) if sha in repo.commits else None)
    if tree is None:
        return not_found()
    return answer(_tree(state, repo, sha if sha in repo.trees else repo.commits[sha]["tree"]))


def _git_user(state: FakeGitHub, login: str, date: str) -> dict[str, Any]:
    return {"name": login.title(), "email": f"{login}@users.noreply.github.test", "date": date}


def _git_commit(state: FakeGitHub, repo: FakeRepo, sha: str) -> dict[str, Any]:
    commit = repo.commits[sha]
    person = _git_user(state, commit["author"], commit["date"])
    payload = {
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "url": _api(state, repo, f"git/commits/{sha}"),
        "html_url": _html(repo, f"commit/{sha}"),
        "author": person,
        "committer": person,
        "message": commit["message"],
        "tree": {"sha": commit["tree"], "url": _api(state, repo, f"git/trees/{commit['tree']}")},
        "parents": [
            {"sha": p, "url": _api(state, repo, f"git/commits/{p}"), "html_url": _html(repo, f"commit/{p}")}
            for p in commit["parents"]
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }
    return shaped("GitCommit", payload)


async def create_commit(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    body = await body_of(request)
    tree = body.get("tree")
    parents = body.get("parents") or []
    if tree not in repo.trees or any(parent not in repo.commits for parent in parents):
        return _invalid("Tree or parent does not exist")
    sha = add_commit(repo, str(tree), str(body.get("message", "")), list(parents), author=request.scope["github_login"])
    return answer(_git_commit(state, repo, sha), 201)


async def get_git_commit(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    sha = request.path_params["sha"]
    if repo is None or sha not in repo.commits:
        return not_found()
    return answer(_git_commit(state, repo, sha))


# -- contents -----------------------------------------------------------------------------------------------------


def _links(state: FakeGitHub, repo: FakeRepo, path: str, sha: str, kind: str, ref: str) -> dict[str, Any]:
    where = quote(path)
    return {
        "url": _api(state, repo, f"contents/{where}?ref={ref}"),
        "git_url": _api(state, repo, f"git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"),
        "html_url": _html(repo, f"{'tree' if kind == 'dir' else 'blob'}/{ref}/{where}"),
        "download_url": None if kind == "dir" else f"https://raw.github.test/{repo.full_name}/{ref}/{where}",
    }


def _file(state: FakeGitHub, repo: FakeRepo, path: str, sha: str, ref: str) -> dict[str, Any]:
    data = repo.blobs[sha]
    links = _links(state, repo, path, sha, "file", ref)
    payload = {
        "type": "file",
        "encoding": "none" if len(data) > LARGE else "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": "" if len(data) > LARGE else encoded(data),
        "sha": sha,
        **links,
        "_links": {"git": links["git_url"], "html": links["html_url"], "self": links["url"]},
    }
    return shaped("ContentFile", payload)


def _directory(state: FakeGitHub, repo: FakeRepo, files: dict[str, str], path: str, ref: str) -> list[dict[str, Any]]:
    prefix = f"{path}/" if path else ""
    children: dict[str, tuple[str, str]] = {}
    for name, sha in files.items():
        if name.startswith(prefix):
            first, _, rest = name[len(prefix) :].partition("/")
            if rest:
                children.setdefault(first, ("dir", sha_of("dir", prefix + first, ref)))
            else:
                children[first] = ("file", sha)
    items: list[dict[str, Any]] = []
    for name, (kind, sha) in sorted(children.items(), key=lambda item: (item[1][0] != "dir", item[0])):
        full = prefix + name
        links = _links(state, repo, full, sha, kind, ref)
        item = {
            "type": kind,
            "size": len(repo.blobs[sha]) if kind == "file" else 0,
            "name": name,
            "path": full,
            "sha": sha,
            **links,
            "_links": {"git": links["git_url"], "html": links["html_url"], "self": links["url"]},
        }
        items.append(shaped("ContentDirectoryItems", item))
    return items


async def get_contents(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    path = request.path_params.get("path", "").strip("/")
    ref = request.query_params.get("ref") or repo.default_branch
    commit = resolve(repo, ref)
    if commit is None:
        return _invalid(f"No commit found for the ref {ref}", 404)
    files = files_at(repo, commit)
    if path in files:
        return answer(_file(state, repo, path, files[path], ref))
    listing = _directory(state, repo, files, path, ref)
    return answer(listing) if listing or not path else not_found()


async def put_contents(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    path = request.path_params["path"].strip("/")
    body = await body_of(request)
    branch = str(body.get("branch") or repo.default_branch)
    base = head(repo, branch)
    if base is None:
        return _invalid(f"Branch {branch} not found", 404)
    files = files_at(repo, base)
    given = body.get("sha")
    if path in files and given is None:
        return _invalid('Invalid request.\n\n"sha" wasn\'t supplied.')
    if path in files and given != files[path]:
        return _invalid(f"{path} does not match {given}", 409)
    if path not in files and given is not None:
        return _invalid(f"{path} does not match {given}", 409)
    try:
        data = base64.b64decode(str(body.get("content", "")), validate=True)
    except ValueError:
        return _invalid("content is not valid Base64")
    created = path not in files
    files[path] = add_blob(repo, data)
    entries = [{"path": p, "mode": "100644", "type": "blob", "sha": s} for p, s in sorted(files.items())]
    tree = sha_of("tree", tuple((e["path"], e["sha"]) for e in entries))
    repo.trees[tree] = entries
    commit = add_commit(repo, tree, str(body.get("message", "")), [base], author=request.scope["github_login"])
    repo.refs[f"heads/{branch}"] = commit
    content = _file(state, repo, path, files[path], branch)
    content = {key: value for key, value in content.items() if key not in ("content", "encoding")}
    payload = {"content": content, "commit": _git_commit(state, repo, commit)}
    return answer(shaped("FileCommit", payload), 201 if created else 200)


# -- commits, compare ---------------------------------------------------------------------------------------------


def _commit(
    state: FakeGitHub, repo: FakeRepo, sha: str, *, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    commit = repo.commits[sha]
    person = _git_user(state, commit["author"], commit["date"])
    payload: dict[str, Any] = {
        "url": _api(state, repo, f"commits/{sha}"),
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "html_url": _html(repo, f"commit/{sha}"),
        "comments_url": _api(state, repo, f"commits/{sha}/comments"),
        "commit": {
            "url": _api(state, repo, f"git/commits/{sha}"),
            "author": person,
            "committer": person,
            "message": commit["message"],
            "comment_count": 0,
            "tree": {"sha": commit["tree"], "url": _api(state, repo, f"git/trees/{commit['tree']}")},
        },
        "author": simple_user(state, commit["author"]),
        "committer": simple_user(state, commit["author"]),
        "parents": [
            {"sha": p, "url": _api(state, repo, f"commits/{p}"), "html_url": _html(repo, f"commit/{p}")}
            for p in commit["parents"]
        ],
    }
    if files is not None:
        entries = [_diff_entry(state, repo, change, sha) for change in files]
        additions = sum(entry["additions"] for entry in entries)
        deletions = sum(entry["deletions"] for entry in entries)
        payload["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
        payload["files"] = entries
    return shaped("Commit", payload)


def _diff_entry(state: FakeGitHub, repo: FakeRepo, change: dict[str, Any], ref: str) -> dict[str, Any]:
    where = quote(change["filename"])
    return shaped(
        "DiffEntry",
        change
        | {
            "blob_url": _html(repo, f"blob/{ref}/{where}"),
            "raw_url": _html(repo, f"raw/{ref}/{where}"),
            "contents_url": _api(state, repo, f"contents/{where}?ref={ref}"),
        },
    )


def _changes(repo: FakeRepo, sha: str) -> list[dict[str, Any]]:
    parents = repo.commits[sha]["parents"]
    return diff(repo, files_at(repo, parents[0]) if parents else {}, files_at(repo, sha))


def _touches(repo: FakeRepo, sha: str, path: str) -> bool:
    return any(
        change["filename"] == path or change["filename"].startswith(path + "/") for change in _changes(repo, sha)
    )


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def list_commits(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    query = request.query_params
    start = resolve(repo, query.get("sha") or repo.default_branch)
    if start is None:
        return _invalid("No commit found for SHA: " + str(query.get("sha")), 404)
    shas = ancestors(repo, start)
    if path := query.get("path"):
        shas = [sha for sha in shas if _touches(repo, sha, path.strip("/"))]
    if since := query.get("since"):
        shas = [sha for sha in shas if _moment(repo.commits[sha]["date"]) >= _moment(since)]
    if until := query.get("until"):
        shas = [sha for sha in shas if _moment(repo.commits[sha]["date"]) <= _moment(until)]
    return page(request, [_commit(state, repo, sha) for sha in shas])


async def get_commit(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    ref = request.path_params["ref"]
    sha = resolve(repo, ref)
    if sha is None:
        return _invalid(f"No commit found for SHA: {ref}")
    files = _changes(repo, sha)
    per_page = request.query_params.get("per_page")
    if per_page is not None:
        number = int(request.query_params.get("page", "1"))
        files = files[(number - 1) * int(per_page) : number * int(per_page)]
    return answer(_commit(state, repo, sha, files=files))


async def compare(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    base_ref, separator, head_ref = request.path_params["basehead"].partition("...")
    base, tip = resolve(repo, base_ref), resolve(repo, head_ref) if separator else None
    if base is None or tip is None:
        return not_found()
    behind_of_base = ancestors(repo, base)
    ahead_of_head = ancestors(repo, tip)
    merge_base = next((sha for sha in ahead_of_head if sha in set(behind_of_base)), base)
    ahead = [sha for sha in ahead_of_head if sha not in set(behind_of_base)]
    behind = [sha for sha in behind_of_base if sha not in set(ahead_of_head)]
    status = "identical" if base == tip else "ahead" if not behind else "behind" if not ahead else "diverged"
    per_page = min(int(request.query_params.get("per_page", "250")), 250)
    number = int(request.query_params.get("page", "1"))
    oldest_first = list(reversed(ahead))
    payload = {
        "url": _api(state, repo, f"compare/{base_ref}...{head_ref}"),
        "html_url": _html(repo, f"compare/{base_ref}...{head_ref}"),
        "permalink_url": _html(repo, f"compare/{base}...{tip}"),
        "diff_url": _html(repo, f"compare/{base_ref}...{head_ref}.diff"),
        "patch_url": _html(repo, f"compare/{base_ref}...{head_ref}.patch"),
        "base_commit": _commit(state, repo, base),
        "merge_base_commit": _commit(state, repo, merge_base),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [_commit(state, repo, sha) for sha in oldest_first[(number - 1) * per_page : number * per_page]],
        "files": [
            _diff_entry(state, repo, change, tip)
            for change in diff(repo, files_at(repo, merge_base), files_at(repo, tip))
        ],
    }
    headers: dict[str, str] = {}
    if number * per_page < len(oldest_first):
        headers["link"] = f'<{request.url.include_query_params(page=number + 1)}>; rel="next"'
    return answer(shaped("CommitComparison", payload), headers=headers)


# -- tags, releases -----------------------------------------------------------------------------------------------


async def list_tags(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    names = sorted({ref.removeprefix("tags/") for ref in repo.refs if ref.startswith("tags/")}, reverse=True)
    items = [
        shaped(
            "Tag",
            {
                "name": name,
                "commit": {"sha": repo.refs[f"tags/{name}"], "url": _api(state, repo, f"commits/{name}")},
                "zipball_url": _api(state, repo, f"zipball/{name}"),
                "tarball_url": _api(state, repo, f"tarball/{name}"),
                "node_id": f"T_{sha_of(repo.full_name, name)[:12]}",
            },
        )
        for name in names
    ]
    return page(request, items)


def release(repo: FakeRepo, tag: str, name: str | None = None, body: str | None = None, **flags: bool) -> None:
    """Add a release of ``tag`` to ``repo`` (``draft``, ``prerelease`` as flags), newest first."""
    repo.releases.insert(
        0,
        {
            "tag_name": tag,
            "name": name,
            "body": body,
            "draft": flags.get("draft", False),
            "prerelease": flags.get("prerelease", False),
        },
    )


async def list_releases(request: Request) -> Response:
    state, repo = _repo_or_none(request)
    if repo is None:
        return not_found()
    items: list[dict[str, Any]] = []
    for index, item in enumerate(repo.releases):
        release_id = 9000 + index
        payload = {
            "url": _api(state, repo, f"releases/{release_id}"),
            "html_url": _html(repo, f"releases/tag/{item['tag_name']}"),
            "assets_url": _api(state, repo, f"releases/{release_id}/assets"),
            "upload_url": _api(state, repo, f"releases/{release_id}/assets{{?name,label}}"),
            "tarball_url": _api(state, repo, f"tarball/{item['tag_name']}"),
            "zipball_url": _api(state, repo, f"zipball/{item['tag_name']}"),
            "id": release_id,
            "node_id": f"RE_{release_id}",
            "tag_name": item["tag_name"],
            "target_commitish": repo.default_branch,
            "name": item["name"],
            "body": item["body"],
            "draft": item["draft"],
            "prerelease": item["prerelease"],
            "created_at": iso(),
            "published_at": None if item["draft"] else iso(),
            "author": simple_user(state, repo.owner),
            "assets": [],
        }
        items.append(shaped("Release", payload))
    return page(request, items)


# -- code search ----------------------------------------------------------------------------------------------------


async def search_code(request: Request) -> Response:
    """Words of ``q`` that all occur in a file of a default branch; ``repo:`` and ``path:`` qualifiers."""
    state = state_of(request)
    query = request.query_params.get("q", "")
    words: list[str] = []
    wanted_repo: str | None = None
    wanted_path: str | None = None
    for word in query.split():
        if word.startswith("repo:"):
            wanted_repo = word[5:]
        elif word.startswith("path:"):
            wanted_path = word[5:].strip("/")
        elif ":" not in word:
            words.append(word.strip('"'))
    if not words:
        return _invalid("Validation Failed: the search needs at least one word")
    text_match = "text-match" in request.headers.get("accept", "")
    hits: list[dict[str, Any]] = []
    for repo in state.repos.values():
        sha = head(repo, repo.default_branch)
        if (wanted_repo and repo.full_name != wanted_repo) or sha is None:
            continue
        for path, blob in sorted(files_at(repo, sha).items()):
            data = repo.blobs[blob]
            if (wanted_path is not None and not path.startswith(wanted_path)) or not is_text(data):
                continue
            content = data.decode()
            if not all(word.lower() in content.lower() for word in words):
                continue
            hit: dict[str, Any] = {
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "sha": blob,
                "url": _api(state, repo, f"contents/{quote(path)}"),
                "git_url": _api(state, repo, f"git/blobs/{blob}"),
                "html_url": _html(repo, f"blob/{sha}/{quote(path)}"),
                "repository": _listing(state, repo, "MinimalRepository"),
                "score": 1.0,
            }
            if text_match:
                at = content.lower().index(words[0].lower())
                start = max(0, at - 40)
                fragment = content[start : at + len(words[0]) + 40]
                hit["text_matches"] = [
                    {
                        "object_url": hit["url"],
                        "object_type": "FileContent",
                        "property": "content",
                        "fragment": fragment,
                        "matches": [{"text": words[0], "indices": [at - start, at - start + len(words[0])]}],
                    }
                ]
            hits.append(shaped("CodeSearchResultItem", hit))
    per_page = min(int(request.query_params.get("per_page", "30")), 100)
    number = int(request.query_params.get("page", "1"))
    payload = {
        "total_count": len(hits),
        "incomplete_results": False,
        "items": hits[(number - 1) * per_page : number * per_page],
    }
    headers: dict[str, str] = {}
    if number * per_page < len(hits):
        headers["link"] = f'<{request.url.include_query_params(page=number + 1, per_page=per_page)}>; rel="next"'
    return answer(shaped("SearchCodeGetResponse200", payload), headers=headers)


_REPO = "/repos/{owner}/{repo}"

ROUTES = [
    Route("/user/repos", list_own_repos),
    Route("/orgs/{owner}/repos", list_org_repos),
    Route("/users/{owner}/repos", list_user_repos),
    Route("/search/code", search_code),
    Route(_REPO, get_repo),
    Route(f"{_REPO}/branches", list_branches),
    Route(f"{_REPO}/branches/{{branch}}", get_branch),
    Route(f"{_REPO}/git/ref/{{ref:path}}", get_ref),
    Route(f"{_REPO}/git/refs", create_ref, methods=["POST"]),
    Route(f"{_REPO}/git/refs/{{ref:path}}", update_ref, methods=["PATCH"]),
    Route(f"{_REPO}/git/refs/{{ref:path}}", delete_ref, methods=["DELETE"]),
    Route(f"{_REPO}/git/blobs", create_blob, methods=["POST"]),
    Route(f"{_REPO}/git/blobs/{{sha}}", get_blob),
    Route(f"{_REPO}/git/trees", create_tree, methods=["POST"]),
    Route(f"{_REPO}/git/trees/{{sha}}", get_tree),
    Route(f"{_REPO}/git/commits", create_commit, methods=["POST"]),
    Route(f"{_REPO}/git/commits/{{sha}}", get_git_commit),
    Route(f"{_REPO}/contents", get_contents),
    Route(f"{_REPO}/contents/{{path:path}}", get_contents, methods=["GET"]),
    Route(f"{_REPO}/contents/{{path:path}}", put_contents, methods=["PUT"]),
    Route(f"{_REPO}/commits", list_commits),
    Route(f"{_REPO}/commits/{{ref:commitref}}", get_commit),
    Route(f"{_REPO}/compare/{{basehead:path}}", compare),
    Route(f"{_REPO}/tags", list_tags),
    Route(f"{_REPO}/releases", list_releases),
]
