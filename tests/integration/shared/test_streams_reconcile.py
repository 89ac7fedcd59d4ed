"""Streams are created or brought to vmscale's settings at every start, against the real NATS."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from shared.bus import STREAM_MAX_AGE_S, Bus, Topology, build_broker
from shared.errors import ConfigurationError

pytestmark = pytest.mark.usefixtures("js_cleanup")


def make_bus(nats_url: str, prefix: str, replicas: int = 1) -> Bus:
    return build_broker(nats_url, client_name="test-streams", topology=Topology(prefix), replicas=replicas)


async def config_of(nats_url: str, name: str) -> StreamConfig:
    nc = await nats.connect(nats_url)
    try:
        config: StreamConfig = (await nc.jetstream().stream_info(name)).config
        return config
    finally:
        await nc.close()


async def test_a_start_creates_the_streams_and_a_second_start_changes_nothing(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    await bus.connect()
    try:
        first = await config_of(nats_url, bus.topology.commands.name)
        assert await bus.ensure_streams() == []
        second = await config_of(nats_url, bus.topology.commands.name)
    finally:
        await bus.broker.stop()
    assert first.num_replicas == 1
    assert first.storage == StorageType.FILE
    assert first == second


async def test_a_stream_with_other_subjects_and_age_is_updated_in_place(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    name = bus.topology.events.name
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(name=name, subjects=[f"{prefix}.vm.>"], max_age=60.0)
        await nc.jetstream().publish(f"{prefix}.vm.cloned", b"{}", stream=name)
    finally:
        await nc.close()
    await bus.connect()
    await bus.broker.stop()
    config = await config_of(nats_url, name)
    assert sorted(config.subjects or []) == sorted(bus.topology.events.subjects)
    assert config.max_age == pytest.approx(STREAM_MAX_AGE_S)
    nc = await nats.connect(nats_url)
    try:
        assert (await nc.jetstream().stream_info(name)).state.messages == 1  # updated, not recreated
    finally:
        await nc.close()


async def test_a_setting_nats_cannot_change_is_reported_and_the_stream_kept(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    name = bus.topology.commands.name
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(name=name, subjects=[f"{prefix}.cmd.>"], storage=StorageType.MEMORY)
    finally:
        await nc.close()
    await bus.broker.connect()
    try:
        notes = await bus.ensure_streams()
    finally:
        await bus.broker.stop()
    assert notes == [
        f"stream {name}: storage: server has memory, wanted file "
        "(NATS cannot change it in place; recreate the stream to apply)"
    ]
    config = await config_of(nats_url, name)
    assert config.storage == StorageType.MEMORY
    assert config.max_age == pytest.approx(STREAM_MAX_AGE_S)  # what could change, changed


async def test_three_replicas_on_a_single_server_fail_the_start_with_the_reason(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix, replicas=3)
    try:
        with pytest.raises(ConfigurationError, match=r"NATS refused stream .*VMSCALE_COMMANDS"):
            await bus.connect()
    finally:
        await bus.broker.stop()
