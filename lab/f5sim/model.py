"""The simulated BIG-IP configuration: partitions, nodes, pools, members, virtual servers.

Semantics from the iControl REST docs and F5's Ansible modules:

* object names live in partitions; full paths are ``/Partition/name``;
* a pool member is named ``<node>:<port>``; adding one creates its node implicitly (named as
  given, with the given address) when the node does not exist;
* deleting a member keeps its node; deleting a node a pool member still uses is refused;
* member ``session``/``state``: enabled ``user-enabled``/``user-up``, disabled ``user-disabled``
  (state stays ``user-up``), forced offline ``user-disabled``/``user-down``; read back, an
  enabled member's session is ``monitor-enabled`` when its pool has a monitor, and ``state`` is
  the monitor's verdict (``up``, ``down``, ``checking``) or ``unchecked`` without one.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field

__all__ = ["F5Error", "Member", "Node", "Pool", "Store", "Virtual", "full_path", "split_path"]


class F5Error(Exception):
    """An error answered with F5's JSON error body."""

    def __init__(self, code: int, message: str, api_error: int = 3) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.api_error = api_error

    def body(self) -> dict[str, object]:
        """The documented error body."""
        return {"code": self.code, "message": self.message, "errorStack": [], "apiError": self.api_error}


def not_found(kind: str, what: str) -> F5Error:
    """404 ``01020036:3: The requested <kind> (<what>) was not found.``"""
    return F5Error(404, f"01020036:3: The requested {kind} ({what}) was not found.")


def exists(kind: str, what: str, partition: str) -> F5Error:
    """409 ``01020066:3: The requested <kind> (<what>) already exists in partition <p>.``"""
    return F5Error(409, f"01020066:3: The requested {kind} ({what}) already exists in partition {partition}.")


def split_path(raw: str, default_partition: str = "Common") -> tuple[str, str]:
    """``~Common~web`` / ``/Common/web`` / ``web`` → ``("Common", "web")``."""
    text = raw.replace("~", "/")
    if text.startswith("/"):
        parts = text.strip("/").split("/")
        if len(parts) < 2 or not all(parts):
            raise F5Error(400, f"01070734:3: Configuration error: invalid object path {raw!r}")
        return "/".join(parts[:-1]), parts[-1]
    return default_partition, text


def full_path(partition: str, name: str) -> str:
    """``/Partition/name``."""
    return f"/{partition}/{name}"


def _check_address(address: str) -> None:
    ip, _, domain = address.partition("%")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise F5Error(400, f'01070734:3: Configuration error: invalid IP address "{address}"') from None
    if domain and not domain.isdigit():
        raise F5Error(400, f'01070734:3: Configuration error: invalid route domain in "{address}"')


@dataclass
class Node:
    """A node: a named address."""

    partition: str
    name: str
    address: str


@dataclass
class Member:
    """A pool member: node + port, with admin flags, monitor verdict and connection count."""

    partition: str
    node: str
    port: int
    address: str
    user_disabled: bool = False
    user_down: bool = False
    monitor_state: str = "checking"
    cur_conns: int = 0
    tot_conns: int = 0
    description: str = ""

    @property
    def name(self) -> str:
        """``<node>:<port>``."""
        return f"{self.node}:{self.port}"


@dataclass
class Pool:
    """A pool with its monitor and members (keyed by full member path)."""

    partition: str
    name: str
    monitor: str = ""
    load_balancing_mode: str = "round-robin"
    members: dict[str, Member] = field(default_factory=dict)


@dataclass
class Virtual:
    """A virtual server: destination address:port and default pool."""

    partition: str
    name: str
    destination: str
    pool: str = ""


@dataclass
class Store:
    """The whole configuration; ``snapshot``/``restore`` give transactions all-or-nothing."""

    partitions: set[str] = field(default_factory=lambda: {"Common"})
    nodes: dict[str, Node] = field(default_factory=dict)
    pools: dict[str, Pool] = field(default_factory=dict)
    virtuals: dict[str, Virtual] = field(default_factory=dict)
    generation: int = 1

    def snapshot(self) -> Store:
        """A deep copy."""
        return copy.deepcopy(self)

    def _partition(self, partition: str) -> str:
        if partition not in self.partitions:
            raise F5Error(400, f"01070523:3: No Partition/Folder exists with the name ({partition}).")
        return partition

    # -- pools ----------------------------------------------------------------------------

    def pool(self, raw: str) -> Pool:
        """The pool at ``raw`` or 404."""
        partition, name = split_path(raw)
        pool = self.pools.get(full_path(partition, name))
        if pool is None:
            raise not_found("Pool", full_path(partition, name))
        return pool

    def create_pool(self, name: str, partition: str = "Common", monitor: str = "") -> Pool:
        """Create a pool (409 when it exists)."""
        path = full_path(self._partition(partition), name)
        if path in self.pools:
            raise exists("Pool", path, partition)
        self.pools[path] = pool = Pool(partition, name, monitor)
        self.generation += 1
        return pool

    def delete_pool(self, raw: str) -> None:
        """Delete a pool (its members go with it; nodes stay)."""
        pool = self.pool(raw)
        for vs in self.virtuals.values():
            if vs.pool == full_path(pool.partition, pool.name):
                user = full_path(vs.partition, vs.name)
                raise F5Error(
                    400,
                    f"01070265:3: The Pool ({vs.pool}) cannot be deleted because it is in use by a "
                    f"Virtual Server ({user}).",
                )
        del self.pools[full_path(pool.partition, pool.name)]
        self.generation += 1

    # -- members --------------------------------------------------------------------------

    def member(self, pool: Pool, raw: str) -> Member:
        """The member ``raw`` (``~Common~vm-1:8080``) of ``pool`` or 404."""
        partition, name = split_path(raw, pool.partition)
        member = pool.members.get(full_path(partition, name))
        if member is None:
            node, _, port = name.rpartition(":")
            raise not_found(
                "Pool Member", f"{full_path(pool.partition, pool.name)} {full_path(partition, node)} {port}"
            )
        return member

    def add_member(self, pool: Pool, body: dict[str, object]) -> Member:
        """POST a member: ``name`` ``<node>:<port>``, optional ``address``/``partition``/state."""
        name = str(body.get("name") or "")
        partition = self._partition(str(body.get("partition") or pool.partition))
        if "/" in name:
            partition, name = split_path(name)
        node_name, sep, port_text = name.rpartition(":")
        if not sep or not node_name or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise F5Error(400, f'01070587:3: The requested pool member name "{name}" must be of the form node:port.')
        port = int(port_text)
        node_path = full_path(partition, node_name)
        node = self.nodes.get(node_path)
        address = str(body.get("address") or "") or (node.address if node else node_name)
        _check_address(address)
        if node is not None and node.address != address:
            raise F5Error(
                400, f"01070734:3: Configuration error: node ({node_path}) has address {node.address}, not {address}."
            )
        path = full_path(partition, name)
        if path in pool.members:
            raise exists("Pool Member", f"{full_path(pool.partition, pool.name)} {node_path} {port}", partition)
        if node is None:
            self._create_node(partition, node_name, address)
        member = Member(partition, node_name, port, address, description=str(body.get("description") or ""))
        member.monitor_state = "checking" if pool.monitor else "unchecked"
        self._apply_flags(member, body)
        pool.members[path] = member
        self.generation += 1
        return member

    def modify_member(self, pool: Pool, raw: str, body: dict[str, object]) -> Member:
        """PATCH ``session``/``state``/``description``."""
        member = self.member(pool, raw)
        self._apply_flags(member, body)
        if "description" in body:
            member.description = str(body["description"])
        self.generation += 1
        return member

    def delete_member(self, pool: Pool, raw: str) -> None:
        """Delete a member; its node stays."""
        member = self.member(pool, raw)
        del pool.members[full_path(member.partition, member.name)]
        self.generation += 1

    @staticmethod
    def _apply_flags(member: Member, body: dict[str, object]) -> None:
        session = body.get("session")
        state = body.get("state")
        if session is not None and session not in ("user-enabled", "user-disabled"):
            raise F5Error(400, f'01070911:3: invalid property value "session":"{session}"')
        if state is not None and state not in ("user-up", "user-down"):
            raise F5Error(400, f'01070911:3: invalid property value "state":"{state}"')
        if session is not None:
            member.user_disabled = session == "user-disabled"
        if state is not None:
            member.user_down = state == "user-down"
            if member.user_down:
                member.user_disabled = True  # forced offline implies disabled
        if session == "user-enabled" and state is None:
            member.user_down = False

    # -- nodes ----------------------------------------------------------------------------

    def node(self, raw: str) -> Node:
        """The node at ``raw`` or 404."""
        partition, name = split_path(raw)
        node = self.nodes.get(full_path(partition, name))
        if node is None:
            raise not_found("Node", full_path(partition, name))
        return node

    def create_node(self, body: dict[str, object]) -> Node:
        """POST a node: ``name`` and ``address``."""
        partition = self._partition(str(body.get("partition") or "Common"))
        name = str(body.get("name") or "")
        address = str(body.get("address") or name)
        _check_address(address)
        if full_path(partition, name) in self.nodes:
            raise exists("Node", f"{full_path(partition, name)} {address}", partition)
        return self._create_node(partition, name, address)

    def _create_node(self, partition: str, name: str, address: str) -> Node:
        for other in self.nodes.values():
            if other.address == address and other.partition == partition:
                raise exists("Node", f"{full_path(other.partition, other.name)} {address}", partition)
        node = Node(partition, name, address)
        self.nodes[full_path(partition, name)] = node
        self.generation += 1
        return node

    def delete_node(self, raw: str) -> None:
        """Delete a node unless a pool member references it (400 ``01070110``)."""
        node = self.node(raw)
        path = full_path(node.partition, node.name)
        for pool in self.pools.values():
            for member in pool.members.values():
                if full_path(member.partition, member.node) == path:
                    raise F5Error(
                        400,
                        f"01070110:3: Node address '{path}' is referenced by a member of pool "
                        f"'{full_path(pool.partition, pool.name)}'.",
                    )
        del self.nodes[path]
        self.generation += 1

    # -- virtual servers ------------------------------------------------------------------

    def create_virtual(self, body: dict[str, object]) -> Virtual:
        """POST a virtual server: ``name``, ``destination`` (``/Common/ip:port``), ``pool``."""
        partition = self._partition(str(body.get("partition") or "Common"))
        name = str(body.get("name") or "")
        destination = str(body.get("destination") or "")
        if not destination.startswith("/"):
            destination = full_path(partition, destination)
        pool = str(body.get("pool") or "")
        if pool:
            found = self.pool(pool)
            pool = full_path(found.partition, found.name)
        path = full_path(partition, name)
        if path in self.virtuals:
            raise exists("Virtual Server", path, partition)
        self.virtuals[path] = vs = Virtual(partition, name, destination, pool)
        self.generation += 1
        return vs
