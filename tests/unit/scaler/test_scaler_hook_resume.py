"""A Jenkins build once queued is followed, not queued again, after a scaler restart: the hook's
queue item URL is checkpointed in its step, and the replica that takes the activity over hands it
back to the hook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from services.scaler.domain import ActivityStatus, HookSpec
from services.scaler.domain.saga import Step
from testkit.scaler.memory import MemoryHooks
from tests.unit.scaler.scaler_harness import Harness

HOOK = {"kind": "jenkins", "target": "post-provision"}
QUEUE_ITEM = "http://127.0.0.1:8080/queue/item/7/"


class CrashAfterQueueing(MemoryHooks):
    """Queues the build (hands out its queue item), then the process dies mid-follow."""

    async def run(
        self,
        spec: HookSpec,
        context: dict[str, str],
        *,
        checkpoint: str | None = None,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        self.runs.append((spec, dict(context)))
        self.checkpoints.append(checkpoint)
        assert on_checkpoint is not None
        await on_checkpoint(QUEUE_ITEM)
        raise asyncio.CancelledError  # the replica is gone: its task ends without a result


def post_provision_run(activity):
    (track,) = [t for t in activity.tracks if any(r.step is Step.POST_PROVISION_HOOK for r in t.forward)]
    return next(r for r in track.forward if r.step is Step.POST_PROVISION_HOOK)


async def test_a_queued_build_is_followed_by_the_replica_that_takes_over_not_queued_again() -> None:
    first = Harness(owner="r1")
    first.hooks = CrashAfterQueueing()
    first.scaler.activities._hooks = first.hooks  # the harness builds its own hooks
    await first.setup(post_provision_hook=HOOK)
    await first.fire()
    (activity,) = await first.activities()
    assert activity.status is ActivityStatus.RUNNING
    run = post_provision_run(activity)
    assert run.checkpoint == QUEUE_ITEM and first.hooks.checkpoints == [None]

    second = Harness(owner="r2", clock=first.clock, store=first.store, lease=first.lease, world=first.world)
    first.clock.advance(60)  # the first replica's lease on the activity has expired
    await second.scaler.tick()
    await second.settle()
    (activity,) = await second.activities()
    assert activity.status is ActivityStatus.SUCCEEDED
    assert second.hooks.checkpoints == [QUEUE_ITEM]  # followed, not queued again
    assert len(first.hooks.runs) + len(second.hooks.runs) == 2


async def test_a_fresh_run_checkpoints_its_queue_item_in_the_step() -> None:
    h = Harness()
    h.hooks.hand_out = QUEUE_ITEM
    await h.setup(post_provision_hook=HOOK)
    await h.fire()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.SUCCEEDED
    assert post_provision_run(activity).checkpoint == QUEUE_ITEM
    assert h.hooks.checkpoints == [None]
