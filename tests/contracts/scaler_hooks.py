"""The contract of the ``LifecycleHook`` port: memory fake and Jenkins (simulator or real)."""

from __future__ import annotations

import pytest

from services.scaler.domain import HookSpec
from services.scaler.ports import LifecycleHook
from shared.errors import PermanentError

CONTEXT = {"activity_id": "act-1", "group": "web", "vm_name": "web-1", "ip": "127.0.10.10"}


class LifecycleHookContract:
    """Subclasses provide ``hook`` and ``spec(name)``, and ``make_fail(name)``."""

    @pytest.fixture
    def hook(self) -> LifecycleHook:
        raise NotImplementedError

    def spec(self, name: str) -> HookSpec:
        raise NotImplementedError

    async def make_fail(self, name: str) -> None:
        raise NotImplementedError

    async def test_a_successful_run_returns_a_description(self, hook: LifecycleHook) -> None:
        result = await hook.run(self.spec("post"), CONTEXT)
        assert "SUCCESS" in result

    async def test_a_failed_run_is_a_permanent_error(self, hook: LifecycleHook) -> None:
        await self.make_fail("broken")
        with pytest.raises(PermanentError):
            await hook.run(self.spec("broken"), CONTEXT)

    async def test_two_runs_with_the_same_context_both_run(self, hook: LifecycleHook) -> None:
        assert "SUCCESS" in await hook.run(self.spec("post"), CONTEXT)
        assert "SUCCESS" in await hook.run(self.spec("post"), {**CONTEXT, "activity_id": "act-2"})
