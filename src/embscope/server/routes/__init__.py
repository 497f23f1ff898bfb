"""The API's routes, one router per resource; ``ROUTERS`` is the order ``create_app`` mounts
them in."""

from __future__ import annotations

from . import analysis, compare, export, jobs, neighbors, projections, sources, tokens

ROUTERS = (
    sources.router,
    neighbors.router,
    analysis.router,
    projections.router,
    tokens.router,
    compare.router,
    jobs.router,
    export.router,
)

__all__ = ["ROUTERS"]
