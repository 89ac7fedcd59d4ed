"""The JetStream streams' wanted configuration and how a running server is brought to it.

``wanted_stream`` is what vmscale needs of a stream: its subjects, file storage, limits
retention, the ``Nats-Msg-Id`` duplicate window, the maximum age and a replica count (3 on a
three-node cluster, 1 on the embedded server; ``NATS_REPLICAS``). ``plan_stream`` compares it
with what the server holds and says what an update may change and what NATS refuses to change
in place (storage, retention: those need the stream to be recreated, which would drop its
messages, so vmscale never does it and reports it instead). ``reconcile_streams`` runs at every
start of every replica: creating or updating is idempotent, so replicas starting together agree.

Consumers are created by their subscribers with the same replica count; an existing durable
consumer of the starting service whose replica count differs is updated here as well (NATS allows
that in place; each service updates only its own, the only ones its NATS user may touch).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from shared.errors import ConfigurationError, ServiceUnavailable
from shared.telemetry import get_logger

__all__ = ["StreamPlan", "plan_stream", "reconcile_streams", "wanted_stream"]

_log = get_logger(__name__)

_FIXED = ("storage", "retention")
"""Settings JetStream cannot change on an existing stream."""

_CONSUMER_EXCEEDS_STREAM = 10126
"""JetStream's "consumer config replica count exceeds parent stream"."""

_SCALE_WAIT_S = 30.0
"""How long a consumer's replica update waits for its stream's to take effect."""

_NEVER_WORKS = frozenset({10074})
"""JetStream error codes no retry can cure: 10074, more than one replica on a server not in a cluster."""


def wanted_stream(
    name: str, subjects: Iterable[str], *, replicas: int, duplicate_window_s: float, max_age_s: float
) -> StreamConfig:
    """The configuration vmscale wants for one stream."""
    if replicas < 1:
        raise ValueError("a stream needs at least one replica")
    return StreamConfig(
        name=name,
        subjects=list(subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=duplicate_window_s,
        max_age=max_age_s,
    )


@dataclass(frozen=True)
class StreamPlan:
    """What to do with one stream: create it, update it (to ``config``), or nothing.

    ``refused`` lists the settings that differ but cannot be changed in place (kept as the
    server has them, each reported as ``"<setting>: server has X, wanted Y"``).
    """

    action: str  # "create" | "update" | "none"
    config: StreamConfig
    changes: tuple[str, ...] = ()
    refused: tuple[str, ...] = field(default=())


def _value(config: StreamConfig, name: str) -> Any:
    value = getattr(config, name)
    return value.value if hasattr(value, "value") else value


def _same(name: str, have: Any, want: Any) -> bool:
    if name in ("max_age", "duplicate_window"):
        return abs(float(have or 0) - float(want or 0)) < 1e-6
    if name == "subjects":
        return sorted(have or []) == sorted(want or [])
    return bool(have == want)


def plan_stream(existing: StreamConfig | None, wanted: StreamConfig) -> StreamPlan:
    """Compare the server's configuration of a stream (``None``: no such stream) with ``wanted``."""
    if existing is None:
        return StreamPlan("create", wanted)
    refused = tuple(
        f"{name}: server has {_value(existing, name)}, wanted {_value(wanted, name)}"
        for name in _FIXED
        if _value(existing, name) != _value(wanted, name)
    )
    changes: list[str] = []
    updates: dict[str, Any] = {}
    for name in ("subjects", "num_replicas", "duplicate_window", "max_age"):
        have, want = getattr(existing, name), getattr(wanted, name)
        if not _same(name, have, want):
            changes.append(f"{name}: {have} -> {want}")
            updates[name] = want
    if not updates:
        return StreamPlan("none", existing, refused=refused)
    # Start from the server's config: settings vmscale does not manage (set by an operator)
    # and the fixed ones stay as they are.
    return StreamPlan("update", replace(existing, **updates), tuple(changes), refused)


async def _stream_config(js: Any, name: str) -> StreamConfig | None:
    try:
        info = await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        return None
    config: StreamConfig = info.config
    return config


async def _align_consumers(js: Any, stream: str, replicas: int, owned: Collection[str] | None) -> list[str]:
    """Give the stream's durable consumers (those in ``owned``; all when ``None``) the replica
    count (an in-place consumer update).

    A cluster applies a stream's new replica count a moment after accepting it, and refuses a
    consumer with more replicas than its stream meanwhile: such an update is tried again, for up
    to ``_SCALE_WAIT_S``.
    """
    changed: list[str] = []
    for consumer in await js.consumers_info(stream):
        config = consumer.config
        if not config.durable_name or config.num_replicas in (None, 0, replicas):
            continue
        if owned is not None and config.durable_name not in owned:
            continue  # another service's: it aligns its own (its NATS user may touch only those)
        deadline = time.monotonic() + _SCALE_WAIT_S
        while True:
            try:
                await js.add_consumer(stream, config=replace(config, num_replicas=replicas))
                break
            except nats.js.errors.APIError as exc:
                if exc.err_code != _CONSUMER_EXCEEDS_STREAM or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        changed.append(config.durable_name)
    return changed


async def reconcile_streams(
    js: Any, wanted: Iterable[StreamConfig], consumers: Collection[str] | None = None
) -> list[str]:
    """Create or update each stream to ``wanted``; return what could not be applied.

    The durable ``consumers`` named (every one when ``None``) get the stream's replica count.

    Idempotent. Raises ``ConfigurationError`` when the server refuses a stream outright (for
    example three replicas asked of a server that is not in a cluster) and
    ``ServiceUnavailable`` when NATS cannot be reached or cannot place the replicas now (a node
    of the cluster is down). Settings NATS refuses to change in place
    are logged as warnings and returned, the stream kept as it is.
    """
    notes: list[str] = []
    for config in wanted:
        name = str(config.name)
        try:
            plan = plan_stream(await _stream_config(js, name), config)
            if plan.action == "create":
                await js.add_stream(config=plan.config)
                _log.info("stream created", stream=name, replicas=config.num_replicas)
            elif plan.action == "update":
                await js.update_stream(config=plan.config)
                _log.info("stream updated", stream=name, changes=list(plan.changes))
            moved = await _align_consumers(js, name, int(config.num_replicas or 1), consumers)
            if moved:
                _log.info("consumer replicas updated", stream=name, consumers=moved)
        except nats.js.errors.ServiceUnavailableError as exc:
            raise ServiceUnavailable(f"JetStream is unavailable for stream {name}", stream=name) from exc
        except nats.js.errors.APIError as exc:
            if isinstance(exc, nats.js.errors.BadRequestError) or exc.err_code in _NEVER_WORKS:
                raise ConfigurationError(
                    f"NATS refused stream {name}: {exc.description}", stream=name, replicas=config.num_replicas
                ) from exc
            # e.g. "no suitable peers for placement": a node is down, the next start may succeed
            raise ServiceUnavailable(f"NATS could not place stream {name}: {exc.description}", stream=name) from exc
        except (nats.errors.TimeoutError, TimeoutError) as exc:
            raise ServiceUnavailable(f"JetStream did not answer for stream {name}", stream=name) from exc
        for refusal in plan.refused:
            note = f"stream {name}: {refusal} (NATS cannot change it in place; recreate the stream to apply)"
            _log.warning("stream setting not applied", stream=name, detail=refusal)
            notes.append(note)
    return notes
