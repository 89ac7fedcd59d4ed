"""The least-privilege NATS authorization of vmscale, generated from ``shared.subjects``.

Each service gets one NATS user allowed exactly the subjects it publishes and subscribes, named
here with the ``Subject`` constants of the contract, so a renamed or added subject changes the
permissions with it (``tests/unit/shared/test_nats_auth.py`` checks the table against every
service's routers and against the subjects its code names). ``authorization_block`` renders the
``authorization { users = [...] }`` block of a nats-server configuration; passwords are not in
it: each is read by nats-server from an environment variable (``$VMSCALE_<SERVICE>_NATS_PASSWORD``).

What a user may do, beyond its contract subjects:

* JetStream: look at, create and update vmscale's three streams (any replica may start first),
  list their consumers, and create, read and pull from its own durable consumers only, each on
  its own subject (``$JS.API.CONSUMER.CREATE.<stream>.<its durable>.<its subject>``, whose
  filter the server checks against the request), ack its messages;
* dead letters: publish ``dlq.<subject>`` for each subject it consumes;
* replies: subscribe ``_INBOX.>`` (request replies, JetStream API answers and publish acks) and
  answer the requests it receives (``allow_responses``);
* the gateway also reads and deletes dead letters (``$JS.API.STREAM.MSG.{GET,DELETE}`` on the
  dead-letter stream). Replaying one publishes its original subject, which the gateway may do only
  for the subjects it publishes anyway; an operator replays the others with an administrator's
  credentials.

Known limits: every user may subscribe ``_INBOX.>`` (replies are not per-user), and may update
the three streams' configuration (needed by whichever replica starts first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import subjects as s
from shared.bus import Topology
from shared.subjects import Kind, Subject

__all__ = ["EVERY_SERVICE", "RIGHTS", "ServiceRights", "authorization_block", "password_variable", "permissions"]


def _events(*areas: str) -> tuple[Subject[Any], ...]:
    return tuple(
        subject
        for subject in s.ALL
        if subject.kind is Kind.EVENT and subject.area in areas and not subject.name.startswith("dlq.")
    )


def _commands(*areas: str) -> tuple[Subject[Any], ...]:
    return tuple(subject for subject in s.ALL if subject.kind is Kind.COMMAND and subject.area in areas)


def _queries(area: str) -> tuple[Subject[Any], ...]:
    return tuple(
        subject
        for subject in s.ALL
        if subject.kind is Kind.QUERY and subject.area == area and not subject.name.endswith(".health")
    )


@dataclass(frozen=True)
class ServiceRights:
    """What one service does on the bus, in contract subjects.

    ``publishes``: commands and events it stores; ``consumes``: durable JetStream consumers;
    ``answers``: queries it responds to (its health query is added); ``asks``: queries it sends;
    ``listens``: core subscriptions (patterns allowed, e.g. the gateway's event feed).
    """

    publishes: tuple[Subject[Any], ...] = ()
    consumes: tuple[Subject[Any], ...] = ()
    answers: tuple[Subject[Any], ...] = ()
    asks: tuple[Subject[Any], ...] = ()
    listens: tuple[str, ...] = ()


EVERY_SERVICE = ServiceRights(publishes=(s.HEARTBEAT,), listens=(s.LOG_LEVEL_SET.name,))
"""What ``shared.runtime`` does in every service: heartbeats out, log-level changes in (its health
query is added per service)."""


RIGHTS: dict[str, ServiceRights] = {
    "inventory": ServiceRights(
        publishes=_events("vm", "template"),
        consumes=_commands("vm", "template"),
        answers=_queries("inventory"),
    ),
    "monitoring": ServiceRights(
        publishes=_events("monitoring"),
        consumes=(*_commands("monitoring"), s.ACTIVITY_STARTED, s.ACTIVITY_SUCCEEDED, s.ACTIVITY_ROLLED_BACK),
        answers=_queries("monitoring"),
    ),
    "loadbalancer": ServiceRights(
        publishes=_events("pool"),
        consumes=_commands("pool"),
        answers=_queries("pool"),
    ),
    "scaler": ServiceRights(
        publishes=(
            *_events("activity", "decision"),
            s.CMD_VM_CLONE,
            s.CMD_VM_POWER_ON,
            s.CMD_VM_POWER_OFF,
            s.CMD_VM_DESTROY,
            s.CMD_MONITORING_REGISTER,
            s.CMD_MONITORING_DEREGISTER,
            s.CMD_MONITORING_SILENCE,
            s.CMD_MONITORING_PROVISION_ALERTS,
            s.CMD_MONITORING_REMOVE_ALERTS,
            s.CMD_POOL_ADD,
            s.CMD_POOL_DRAIN,
            s.CMD_POOL_REMOVE,
        ),
        consumes=(
            s.ALERT_FIRED,
            s.ALERT_RESOLVED,
            s.VM_CLONED,
            s.VM_POWERED_ON,
            s.VM_POWERED_OFF,
            s.VM_DESTROYED,
            s.VM_OPERATION_FAILED,
            s.VM_IP_ASSIGNED,
            s.MONITORING_REGISTERED,
            s.MONITORING_DEREGISTERED,
            s.MONITORING_FAILED,
            s.MONITORING_ALERTS_PROVISIONED,
            s.MONITORING_ALERTS_REMOVED,
            s.POOL_MEMBER_ADDED,
            s.POOL_MEMBER_DRAINED,
            s.POOL_MEMBER_REMOVED,
            s.POOL_UPDATED,
            s.POOL_OPERATION_FAILED,
            s.POOL_DRIFT_DETECTED,
        ),
        answers=_queries("scaler"),
        asks=(
            s.QUERY_INVENTORY_VMS,
            s.QUERY_INVENTORY_VM,
            s.QUERY_INVENTORY_TEMPLATES,
            s.QUERY_POOL_POOLS,
            s.QUERY_POOL_MEMBERS,
        ),
    ),
    "gateway": ServiceRights(
        publishes=(
            s.ALERT_FIRED,
            s.ALERT_RESOLVED,
            s.AUDIT_RECORDED,
            s.CMD_TEMPLATE_CREATE,
            s.CMD_TEMPLATE_DELETE,
            s.CMD_MONITORING_REGISTER,
            s.CMD_MONITORING_DEREGISTER,
            s.CMD_MONITORING_DELETE_JOB,
            s.CMD_MONITORING_INSTALL_AGENTS,
            s.LOG_LEVEL_SET,
        ),
        asks=tuple(subject for subject in s.ALL if subject.kind is Kind.QUERY),
        listens=(*s.EVENT_STREAM_SUBJECTS, s.DEAD_LETTERS.name, s.HEARTBEAT.name),
    ),
}
"""Every service's rights; the services of ``shared.subjects.SERVICES``, no more, no less."""


def password_variable(service: str) -> str:
    """The environment variable nats-server reads the service's password from."""
    return f"VMSCALE_{service.upper()}_NATS_PASSWORD"


def _unique(items: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(items))


def permissions(service: str, prefix: str = "") -> dict[str, Any]:
    """The nats-server ``permissions`` of ``service`` under subject prefix ``prefix``."""
    rights = RIGHTS[service]
    topology = Topology(prefix)
    streams = (topology.commands.name, topology.events.name, topology.dead_letters.name)
    publish = [topology.subject(subject) for subject in rights.publishes + rights.asks]
    publish += [topology.subject(s.dead_letter(subject)) for subject in rights.consumes]
    publish += [topology.subject(subject) for subject in EVERY_SERVICE.publishes]
    publish.append("$JS.API.INFO")
    for stream in streams:
        publish += [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE")]
        publish += [f"$JS.API.CONSUMER.LIST.{stream}", f"$JS.ACK.{stream}.>"]
    for subject in rights.consumes:
        stream, durable = topology.stream_for(subject).name, topology.durable(service, subject)
        # the filter subject is part of the create subject: a durable cannot be pointed elsewhere
        publish.append(f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.{topology.subject(subject)}")
        publish += [f"$JS.API.CONSUMER.{verb}.{stream}.{durable}" for verb in ("INFO", "MSG.NEXT")]
    if service == "gateway":
        publish += [f"$JS.API.STREAM.MSG.{verb}.{topology.dead_letters.name}" for verb in ("GET", "DELETE")]
    answers = (*rights.answers, s.health_query(service))
    subscribe = [topology.subject(subject) for subject in answers]
    subscribe += [topology.subject(pattern) for pattern in rights.listens + EVERY_SERVICE.listens]
    subscribe.append("_INBOX.>")
    return {
        "publish": {"allow": _unique(publish)},
        "subscribe": {"allow": _unique(subscribe)},
        "allow_responses": True,
    }


def _render(value: Any, indent: int) -> str:
    pad = "  " * indent
    if isinstance(value, dict):
        inner = "\n".join(f"{pad}  {key}: {_render(item, indent + 1)}" for key, item in value.items())
        return "{\n" + inner + f"\n{pad}}}"
    if isinstance(value, list):
        return "[\n" + "\n".join(f'{pad}  "{item}"' for item in value) + f"\n{pad}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def authorization_block(
    prefix: str = "", services: Iterable[str] = s.SERVICES, nkeys: Mapping[str, str] | None = None
) -> str:
    """The nats-server ``authorization`` block: one user per service.

    A service named in ``nkeys`` (service → the user's public NKey, ``U...``) logs in with its
    seed (``NATS_NKEY_SEED_FILE``); the others with a password nats-server reads from the
    environment (``password_variable``).
    """
    nkeys = nkeys or {}
    unknown = sorted(set(nkeys) - set(RIGHTS))
    if unknown:
        raise ValueError(f"not vmscale services: {unknown}")
    users = []
    for service in services:
        body = _render(permissions(service, prefix), 3)
        public = nkeys.get(service)
        if public is not None and not (public.startswith("U") and public.isalnum()):
            raise ValueError(f"{service}: a user's public NKey starts with U")
        login = f"nkey: {public}" if public else f"user: {service}\n      password: ${password_variable(service)}"
        users.append(f"    {{\n      {login}\n      permissions: {body}\n    }}")
    header = "# Generated by `vmscale nats-auth` from shared/subjects.py; regenerate, do not edit.\n"
    return header + "authorization {\n  users = [\n" + "\n".join(users) + "\n  ]\n}\n"
