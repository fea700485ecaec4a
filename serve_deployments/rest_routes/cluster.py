"""The cluster: Ray nodes, the actors on each, and the charge points each serves."""

from __future__ import annotations

from fastapi import APIRouter

from serve_deployments.rest_routes.common import ApiContext, errors, require
from sigecve.services.api_tokens import Role
from sigecve.services.cluster import ClusterView
from sigecve.services.errors import Unavailable


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["system"])
    viewer = require(ctx, Role.viewer)

    @api.get("/cluster", response_model=ClusterView, responses=errors(503), dependencies=[viewer])
    async def cluster() -> ClusterView:
        """Each Ray node (live ones first): its IP, whether it is the head, its live actors
        by class, the charge points its host actors hold and those that entered through its
        ingress. A node lost stays listed, not alive, with nothing on it."""
        if ctx.cluster is None:
            raise Unavailable("this deployment has no view of the cluster")
        return await ctx.cluster()

    return api
