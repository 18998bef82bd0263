"""A stateful fake of GitHub's REST API for the github server's tests (no GitHub emulator exists).

An ASGI app (:func:`app.build_app`) that the real githubkit client talks to through its transport: it keeps
users, repositories, issues, pull requests, git objects, checks and workflow runs in memory
(:class:`state.FakeGitHub`), answers with GitHub's shapes (every answer is validated by githubkit's own models,
so the fake cannot drift from GitHub), and injects faults on request (:meth:`state.FakeGitHub.fail`: 401, 403
with rate-limit headers, a secondary limit with ``retry-after``, 404, 409, 422, 5xx, slow answers).
"""
