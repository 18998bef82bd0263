"""The factory's REST API beside /mcp: the KPI catalog and KPI history for dashboards, behind bearer tokens.

    GET /api/v1/kpis[?category=&limit=&cursor=]              the catalog, paged
    GET /api/v1/kpis/{kpi_id}                                one definition and its versions
    GET /api/v1/kpis/{kpi_id}/history[?scope=&start=&end=&limit=&cursor=]

Answers are the same compact JSON the MCP tools return; a refused request gets ``{"error": ...}`` with 400,
404, 409 or 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shared.errors import CallError, Conflict, DependencyUnavailable, InvalidRequest, NotFound
from shared.routes import BEARER, RouteSpec
from shared.toolset import compact_json

__all__ = ["ROUTES"]

_CATEGORIES = {"delivery", "quality", "reliability", "efficiency", "security"}


def _json(status: int, body: object) -> Response:
    return Response(compact_json(body), status_code=status, media_type="application/json")


async def _answer(call: Callable[[], Awaitable[BaseModel]]) -> Response:
    try:
        result = await call()
    except NotFound as error:
        return _json(404, {"error": str(error)})
    except Conflict as error:
        return _json(409, {"error": str(error)})
    except DependencyUnavailable as error:
        return _json(503, {"error": str(error)})
    except CallError as error:
        return _json(400, {"error": str(error)})
    return _json(200, result.model_dump(mode="json"))


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def _time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def list_kpis_api(request: Request, server: Any) -> Response:
    async def call() -> BaseModel:
        category = request.query_params.get("category")
        if category is not None and category not in _CATEGORIES:
            raise InvalidRequest(f"category must be one of {', '.join(sorted(_CATEGORIES))}.")
        limit = _int(request, "limit", 50, 1, 100)
        return await server.deps.kpis.list(category=category, limit=limit, cursor=request.query_params.get("cursor"))

    return await _answer(call)


async def get_kpi_api(request: Request, server: Any) -> Response:
    return await _answer(lambda: server.deps.kpis.get(request.path_params["kpi_id"][:64]))


async def kpi_history_api(request: Request, server: Any) -> Response:
    async def call() -> BaseModel:
        end = _time(request, "end") or datetime.now(UTC)
        start = _time(request, "start") or end - timedelta(days=30)
        return await server.deps.kpis.history(
            kpi_id=request.path_params["kpi_id"][:64],
            start=start,
            end=end,
            scope=request.query_params.get("scope", "factory")[:255],
            limit=_int(request, "limit", 100, 1, 500),
            cursor=request.query_params.get("cursor"),
        )

    return await _answer(call)


ROUTES = (
    RouteSpec("/api/v1/kpis", list_kpis_api, ("GET",), BEARER, "The KPI catalog, paged (category, limit, cursor)."),
    RouteSpec("/api/v1/kpis/{kpi_id}", get_kpi_api, ("GET",), BEARER, "One KPI definition and its versions."),
    RouteSpec(
        "/api/v1/kpis/{kpi_id}/history",
        kpi_history_api,
        ("GET",),
        BEARER,
        "A KPI's measurements and summary (scope, start, end, limit, cursor).",
    ),
)
