"""iControl REST resources of the simulator: routing, JSON rendering, ``$select``.

``dispatch`` is independent of the web framework so that a committed transaction can replay its
queued commands through exactly the same code.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from lab.f5sim.model import F5Error, Member, Pool, Store, Virtual, full_path

__all__ = ["dispatch", "member_stats", "tilde"]

VERSION = "15.1.0"
Json = dict[str, Any]


def tilde(partition: str, name: str) -> str:
    """``~Partition~name`` with ``%`` escaped as ``%25`` (route domains)."""
    return quote(f"~{partition}~{name}".replace("/", "~"), safe="~:.-_")


def _link(path: str) -> str:
    return f"https://localhost/mgmt/tm/{path}?ver={VERSION}"


def _member_state(pool: Pool, member: Member) -> tuple[str, str]:
    session = "user-disabled" if member.user_disabled else ("monitor-enabled" if pool.monitor else "user-enabled")
    state = "user-down" if member.user_down else member.monitor_state
    return session, state


def render_member(pool: Pool, member: Member) -> Json:
    """A member as ``GET .../members/<member>`` shows it."""
    session, state = _member_state(pool, member)
    return {
        "kind": "tm:ltm:pool:members:membersstate",
        "name": member.name,
        "partition": member.partition,
        "fullPath": full_path(member.partition, member.name),
        "generation": 1,
        "selfLink": _link(
            f"ltm/pool/{tilde(pool.partition, pool.name)}/members/{tilde(member.partition, member.name)}"
        ),
        "address": member.address,
        "connectionLimit": 0,
        "description": member.description or None,
        "dynamicRatio": 1,
        "ephemeral": "false",
        "inheritProfile": "enabled",
        "logging": "disabled",
        "monitor": "default",
        "priorityGroup": 0,
        "rateLimit": "disabled",
        "ratio": 1,
        "session": session,
        "state": state,
    }


def render_pool(pool: Pool) -> Json:
    """A pool as ``GET /mgmt/tm/ltm/pool/<pool>`` shows it."""
    path = f"ltm/pool/{tilde(pool.partition, pool.name)}"
    body: Json = {
        "kind": "tm:ltm:pool:poolstate",
        "name": pool.name,
        "partition": pool.partition,
        "fullPath": full_path(pool.partition, pool.name),
        "generation": 1,
        "selfLink": _link(path),
        "loadBalancingMode": pool.load_balancing_mode,
        "minActiveMembers": 0,
        "membersReference": {"link": _link(f"{path}/members"), "isSubcollection": True},
    }
    if pool.monitor:
        body["monitor"] = pool.monitor
    return body


def render_virtual(vs: Virtual) -> Json:
    """A virtual server."""
    body: Json = {
        "kind": "tm:ltm:virtual:virtualstate",
        "name": vs.name,
        "partition": vs.partition,
        "fullPath": full_path(vs.partition, vs.name),
        "generation": 1,
        "selfLink": _link(f"ltm/virtual/{tilde(vs.partition, vs.name)}"),
        "destination": vs.destination,
        "ipProtocol": "tcp",
        "source": "0.0.0.0/0",
    }
    if vs.pool:
        body["pool"] = vs.pool
    return body


def render_node(node: Any) -> Json:
    """A node."""
    return {
        "kind": "tm:ltm:node:nodestate",
        "name": node.name,
        "partition": node.partition,
        "fullPath": full_path(node.partition, node.name),
        "generation": 1,
        "selfLink": _link(f"ltm/node/{tilde(node.partition, node.name)}"),
        "address": node.address,
        "connectionLimit": 0,
        "session": "user-enabled",
        "state": "unchecked",
    }


def member_stats(pool: Pool, member: Member) -> tuple[str, Json]:
    """One member's stats entry (key, ``nestedStats``)."""
    _, state = _member_state(pool, member)
    base = f"ltm/pool/{tilde(pool.partition, pool.name)}/members/{tilde(member.partition, member.name)}"
    available = {"up": "available", "unchecked": "unknown", "checking": "unknown"}.get(state, "offline")
    entries = {
        "addr": {"description": member.address},
        "curSessions": {"value": member.cur_conns},
        "monitorRule": {"description": pool.monitor or "none"},
        "monitorStatus": {"description": state},
        "nodeName": {"description": full_path(member.partition, member.node)},
        "poolName": {"description": full_path(pool.partition, pool.name)},
        "port": {"value": member.port},
        "serverside.curConns": {"value": member.cur_conns},
        "serverside.totConns": {"value": member.tot_conns},
        "sessionStatus": {"description": "disabled" if member.user_disabled else "enabled"},
        "status.availabilityState": {"description": available},
        "status.enabledState": {"description": "disabled" if member.user_disabled else "enabled"},
    }
    key = f"https://localhost/mgmt/tm/{base}/{tilde(member.partition, member.name)}/stats"
    return key, {"nestedStats": {"kind": "tm:ltm:pool:members:membersstats", "selfLink": key, "entries": entries}}


def _collection(kind: str, path: str, items: list[Json], select: str | None) -> Json:
    if select:
        fields = [f.strip() for f in select.split(",") if f.strip()]
        items = [{k: item[k] for k in fields if k in item} for item in items]
    return {"kind": kind, "selfLink": _link(path), "items": items}


_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("member_stats", r"^ltm/pool/([^/]+)/members/([^/]+)/stats$"),
        ("members_stats", r"^ltm/pool/([^/]+)/members/stats$"),
        ("member", r"^ltm/pool/([^/]+)/members/([^/]+)$"),
        ("members", r"^ltm/pool/([^/]+)/members$"),
        ("pool", r"^ltm/pool/([^/]+)$"),
        ("pools", r"^ltm/pool$"),
        ("node", r"^ltm/node/([^/]+)$"),
        ("nodes", r"^ltm/node$"),
        ("virtual", r"^ltm/virtual/([^/]+)$"),
        ("virtuals", r"^ltm/virtual$"),
        ("partitions", r"^auth/partition$"),
    ]
]


def dispatch(store: Store, method: str, path: str, query: dict[str, str], body: Json) -> tuple[int, Json]:
    """Serve ``method`` on ``/mgmt/tm/<path>``; raise ``F5Error`` for documented failures."""
    for name, pattern in _ROUTES:
        match = pattern.match(path)
        if match:
            return _handle(store, name, method, match.groups(), query, body)
    raise F5Error(404, f"Public URI path not registered: /mgmt/tm/{path}", api_error=1)


def _handle(
    store: Store, route: str, method: str, args: tuple[str, ...], query: dict[str, str], body: Json
) -> tuple[int, Json]:
    select = query.get("$select")
    if route == "pools":
        if method == "GET":
            pools = sorted(store.pools.values(), key=lambda p: (p.partition, p.name))
            items = [render_pool(p) for p in pools]
            if query.get("expandSubcollections") == "true":
                for item, pool in zip(items, pools, strict=True):
                    members = [render_member(pool, m) for m in sorted(pool.members.values(), key=lambda m: m.name)]
                    item["membersReference"]["items"] = members
            return 200, _collection("tm:ltm:pool:poolcollectionstate", "ltm/pool", items, select)
        if method == "POST":
            pool = store.create_pool(
                str(body.get("name") or ""), str(body.get("partition") or "Common"), str(body.get("monitor") or "")
            )
            return 200, render_pool(pool)
    elif route == "pool":
        if method == "GET":
            return 200, render_pool(store.pool(args[0]))
        if method == "DELETE":
            store.delete_pool(args[0])
            return 200, {}
        if method == "PATCH":
            pool = store.pool(args[0])
            pool.monitor = str(body.get("monitor", pool.monitor) or "")
            return 200, render_pool(pool)
    elif route == "members":
        pool = store.pool(args[0])
        if method == "GET":
            items = [render_member(pool, m) for m in sorted(pool.members.values(), key=lambda m: m.name)]
            return 200, _collection(
                "tm:ltm:pool:members:memberscollectionstate", f"ltm/pool/{args[0]}/members", items, select
            )
        if method == "POST":
            return 200, render_member(pool, store.add_member(pool, body))
    elif route == "member":
        pool = store.pool(args[0])
        if method == "GET":
            return 200, render_member(pool, store.member(pool, args[1]))
        if method in ("PATCH", "PUT"):
            return 200, render_member(pool, store.modify_member(pool, args[1], body))
        if method == "DELETE":
            store.delete_member(pool, args[1])
            return 200, {}
    elif route in ("member_stats", "members_stats") and method == "GET":
        pool = store.pool(args[0])
        chosen = [store.member(pool, args[1])] if route == "member_stats" else list(pool.members.values())
        return 200, {
            "kind": "tm:ltm:pool:members:membersstats",
            "selfLink": _link(f"ltm/pool/{args[0]}/members/stats"),
            "entries": dict(member_stats(pool, m) for m in chosen),
        }
    elif route == "nodes":
        if method == "GET":
            items = [render_node(n) for n in sorted(store.nodes.values(), key=lambda n: (n.partition, n.name))]
            return 200, _collection("tm:ltm:node:nodecollectionstate", "ltm/node", items, select)
        if method == "POST":
            return 200, render_node(store.create_node(body))
    elif route == "node":
        if method == "GET":
            return 200, render_node(store.node(args[0]))
        if method == "DELETE":
            store.delete_node(args[0])
            return 200, {}
    elif route == "virtuals":
        if method == "GET":
            items = [render_virtual(v) for v in sorted(store.virtuals.values(), key=lambda v: (v.partition, v.name))]
            return 200, _collection("tm:ltm:virtual:virtualcollectionstate", "ltm/virtual", items, select)
        if method == "POST":
            return 200, render_virtual(store.create_virtual(body))
    elif route == "partitions":
        if method == "POST":
            name = str(body.get("name") or "")
            if not name or "/" in name:
                raise F5Error(400, "01070734:3: Configuration error: invalid partition name")
            if name in store.partitions:
                raise F5Error(409, f"01020066:3: The requested partition ({name}) already exists.")
            store.partitions.add(name)
            return 200, {"kind": "tm:auth:partition:partitionstate", "name": name, "fullPath": name}
        if method == "GET":
            items = [{"name": name, "fullPath": name} for name in sorted(store.partitions)]
            return 200, _collection("tm:auth:partition:partitioncollectionstate", "auth/partition", items, select)
    elif route == "virtual" and method == "GET":
        partition_name = args[0].replace("~", "/").strip("/").split("/")
        path = full_path(*partition_name) if len(partition_name) == 2 else full_path("Common", partition_name[-1])
        if path not in store.virtuals:
            raise F5Error(404, f"01020036:3: The requested Virtual Server ({path}) was not found.")
        return 200, render_virtual(store.virtuals[path])
    raise F5Error(405, f"Method {method} not allowed on /mgmt/tm/{route}", api_error=1)
