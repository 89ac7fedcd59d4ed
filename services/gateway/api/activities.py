"""Activities with their steps, decisions ("why did or didn't it scale?"), IP pools and leases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from services.gateway.api.params import Instant
from services.gateway.backend import ask
from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from shared import subjects
from shared.errors import InvalidInput
from shared.messages import (
    ActivitiesReply,
    ActivityReply,
    ActivityView,
    CancelActivity,
    DecisionsReply,
    DecisionView,
    DeleteIpPool,
    GetActivity,
    IpPoolReply,
    IpPoolsReply,
    IpPoolView,
    ListActivities,
    ListDecisions,
    ListIpPools,
    OperationReply,
    SaveIpPool,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


def _timeout(state: Any) -> float:
    return float(state.settings.backend_timeout_s)


@router.get("/activities", response_model=list[ActivityView], tags=["activities"], summary="Activities, newest first")
async def list_activities(
    state: State,
    _: Viewer,
    group: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ActivityView]:
    """Scaling activities with their steps, filtered by group and status."""
    reply: ActivitiesReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_ACTIVITIES,
        ListActivities(group=group, status=status, limit=limit),
        _timeout(state),
    )
    return list(reply.activities)


@router.get("/activities/{activity_id}", response_model=ActivityView, tags=["activities"], summary="One activity")
async def get_activity(activity_id: str, state: State, _: Viewer) -> ActivityView:
    """One activity with every step, its durations and the decision that caused it."""
    reply: ActivityReply = await ask(
        state.runtime.bus, subjects.QUERY_SCALER_ACTIVITY, GetActivity(activity_id=activity_id), _timeout(state)
    )
    if reply.activity is None:
        raise InvalidInput("the scaler returned no activity")
    return reply.activity


@router.post(
    "/activities/{activity_id}/cancel", response_model=ActivityView, tags=["activities"], summary="Cancel an activity"
)
async def cancel_activity(activity_id: str, request: Request, state: State, me: Operator) -> ActivityView:
    """Cancel a running activity; its completed steps are compensated."""
    reply: ActivityReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_CANCEL,
        CancelActivity(activity_id=activity_id, actor=me.name),
        _timeout(state),
    )
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
    reply: DecisionsReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_DECISIONS,
        ListDecisions(group=group, allowed=allowed, since=since, until=until, limit=limit),
        _timeout(state),
    )
    return list(reply.decisions)


@router.get("/ip-pools", response_model=list[IpPoolView], tags=["ip-pools"], summary="IP pools with their leases")
async def list_ip_pools(state: State, _: Viewer) -> list[IpPoolView]:
    """Every IP pool: capacity, free addresses, leases."""
    reply: IpPoolsReply = await ask(state.runtime.bus, subjects.QUERY_SCALER_IP_POOLS, ListIpPools(), _timeout(state))
    return list(reply.pools)


@router.put("/ip-pools/{name}", response_model=IpPoolView, tags=["ip-pools"], summary="Create or replace an IP pool")
async def save_ip_pool(
    name: str, request: Request, state: State, me: Admin, spec: Annotated[dict[str, Any], Body()]
) -> IpPoolView:
    """Create or replace a pool (the scaler validates ranges, gateway and network)."""
    reply: IpPoolReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_SAVE_IP_POOL,
        SaveIpPool(spec={**spec, "name": name}, actor=me.name),
        _timeout(state),
    )
    await state.audit(me, "ip_pool.save", name, client_address(request))
    if reply.pool is None:
        raise InvalidInput("the scaler returned no pool")
    return reply.pool


@router.delete("/ip-pools/{name}", response_model=OperationReply, tags=["ip-pools"], summary="Delete an IP pool")
async def delete_ip_pool(name: str, request: Request, state: State, me: Admin) -> OperationReply:
    """Delete a pool that no group uses and no VM holds an address of."""
    reply: OperationReply = await ask(
        state.runtime.bus, subjects.QUERY_SCALER_DELETE_IP_POOL, DeleteIpPool(name=name, actor=me.name), _timeout(state)
    )
    await state.audit(me, "ip_pool.delete", name, client_address(request))
    return reply
