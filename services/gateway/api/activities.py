"""Activities with their steps, decisions ("why did or didn't it scale?"), IP pools and leases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from services.gateway.api.params import Instant
from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from shared.errors import InvalidInput
from shared.messages import (
    ActivityView,
    DecisionView,
    IpPoolView,
    OperationReply,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/activities", response_model=list[ActivityView], tags=["activities"], summary="Activities, newest first")
async def list_activities(
    state: State,
    _: Viewer,
    group: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    since: Instant = None,
    until: Instant = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ActivityView]:
    """Scaling activities with their steps, filtered by group, status and when they were created."""
    if since is not None and until is not None and since > until:
        raise InvalidInput("since is after until", fields=(("since", "must not be after until"),))
    reply = await state.scaler.activities(group=group, status=status, limit=limit, since=since, until=until)
    return list(reply.activities)


@router.get("/activities/{activity_id}", response_model=ActivityView, tags=["activities"], summary="One activity")
async def get_activity(activity_id: str, state: State, _: Viewer) -> ActivityView:
    """One activity with every step, its durations and the decision that caused it."""
    reply = await state.scaler.activity(activity_id)
    if reply.activity is None:
        raise InvalidInput("the scaler returned no activity")
    return reply.activity


@router.post(
    "/activities/{activity_id}/cancel", response_model=ActivityView, tags=["activities"], summary="Cancel an activity"
)
async def cancel_activity(activity_id: str, request: Request, state: State, me: Operator) -> ActivityView:
    """Cancel a running activity; its completed steps are compensated."""
    reply = await state.scaler.cancel(activity_id, actor=me.name)
    await state.audit(me, "activity.cancel", activity_id, client_address(request))
    if reply.activity is None:
        raise InvalidInput("the scaler returned no activity")
    return reply.activity


@router.get("/decisions", response_model=list[DecisionView], tags=["decisions"], summary="Why it did or didn't scale")
async def list_decisions(
    state: State,
    _: Viewer,
    group: Annotated[str | None, Query(max_length=63)] = None,
    allowed: bool | None = None,
    since: Instant = None,
    until: Instant = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DecisionView]:
    """Every decision, allowed or blocked, with the values seen and the rule applied."""
    reply = await state.scaler.decisions(group=group, allowed=allowed, since=since, until=until, limit=limit)
    return list(reply.decisions)


@router.get("/ip-pools", response_model=list[IpPoolView], tags=["ip-pools"], summary="IP pools with their leases")
async def list_ip_pools(state: State, _: Viewer) -> list[IpPoolView]:
    """Every IP pool: capacity, free addresses, leases."""
    reply = await state.scaler.ip_pools()
    return list(reply.pools)


@router.put("/ip-pools/{name}", response_model=IpPoolView, tags=["ip-pools"], summary="Create or replace an IP pool")
async def save_ip_pool(
    name: str, request: Request, state: State, me: Admin, spec: Annotated[dict[str, Any], Body()]
) -> IpPoolView:
    """Create or replace a pool (the scaler validates ranges, gateway and network)."""
    reply = await state.scaler.save_ip_pool({**spec, "name": name}, actor=me.name)
    await state.audit(me, "ip_pool.save", name, client_address(request))
    if reply.pool is None:
        raise InvalidInput("the scaler returned no pool")
    return reply.pool


@router.delete("/ip-pools/{name}", response_model=OperationReply, tags=["ip-pools"], summary="Delete an IP pool")
async def delete_ip_pool(name: str, request: Request, state: State, me: Admin) -> OperationReply:
    """Delete a pool that no group uses and no VM holds an address of."""
    reply = await state.scaler.delete_ip_pool(name, actor=me.name)
    await state.audit(me, "ip_pool.delete", name, client_address(request))
    return reply
