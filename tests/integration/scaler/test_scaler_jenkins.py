"""The Jenkins hook against the lab's Jenkins simulator (started as a lab part, a real process)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from lab.config import LabConfig
from lab.environment import service_env
from lab.jenkins import jenkins_part, read_credentials
from lab.runner import Lab
from services.scaler.adapters.hooks import JenkinsHook
from services.scaler.domain import HookSpec
from shared.embedded import free_port
from shared.errors import PermanentError, ServiceUnavailable, Unauthorized
from tests.contracts.scaler_hooks import CONTEXT, LifecycleHookContract


@pytest.fixture(scope="module")
def jenkins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, str]]:
    """(url, user, password, token) of a running simulator."""
    lab_dir = tmp_path_factory.mktemp("lab")
    port = free_port()
    part = jenkins_part(LabConfig(lab_dir=lab_dir), port=port)
    lab = Lab(lab_dir, [part])
    lab.up()
    try:
        user, password, token = read_credentials(lab.part_dir(part))
        yield f"http://127.0.0.1:{port}", user, password, token
    finally:
        lab.down()


def script(url: str, job: str, **spec: object) -> None:
    httpx.post(f"{url}/_sim/jobs/{job}", json={"queue_delay_s": 0.1, "build_s": 0.2, **spec}).raise_for_status()


class TestJenkinsHookWithToken(LifecycleHookContract):
    @pytest.fixture
    async def hook(self, jenkins: tuple[str, str, str, str]):  # type: ignore[override]
        self.url, user, _, token = jenkins
        script(self.url, "post")
        client = httpx.AsyncClient(trust_env=False)
        yield JenkinsHook(client, self.url, user, token=SecretStr(token), poll_s=0.05)
        await client.aclose()

    def spec(self, name: str) -> HookSpec:
        return HookSpec(kind="jenkins", target=name, parameters={"ENV": "lab"}, timeout_s=10)

    async def make_fail(self, name: str) -> None:
        script(self.url, name, result="FAILURE")


async def test_password_auth_uses_a_crumb_and_the_session_cookie(jenkins: tuple[str, str, str, str]) -> None:
    url, user, password, _ = jenkins
    script(url, "post")
    async with httpx.AsyncClient(trust_env=False) as raw:
        refused = await raw.post(f"{url}/job/post/buildWithParameters", auth=(user, password))
        assert refused.status_code == 403 and "crumb" in refused.text
        crumb = (await raw.get(f"{url}/crumbIssuer/api/json", auth=(user, password))).json()
        queued = await raw.post(
            f"{url}/job/post/buildWithParameters",
            auth=(user, password),
            headers={crumb["crumbRequestField"]: crumb["crumb"]},
            data={"A": "1"},
        )
        assert queued.status_code == 201 and "/queue/item/" in queued.headers["Location"]
        wrong = await raw.get(f"{url}/api/json", auth=(user, "nope"))
        assert wrong.status_code == 401
    async with httpx.AsyncClient(trust_env=False) as client:
        hook = JenkinsHook(client, url, user, password=SecretStr(password), poll_s=0.05)
        assert "SUCCESS" in await hook.run(HookSpec(kind="jenkins", target="post", timeout_s=10), CONTEXT)


async def test_parameters_carry_the_activity_and_identical_queued_requests_fold(
    jenkins: tuple[str, str, str, str],
) -> None:
    url, user, _, token = jenkins
    script(url, "slow", queue_delay_s=1.0)
    async with httpx.AsyncClient(trust_env=False) as client:
        hook = JenkinsHook(client, url, user, token=SecretStr(token), poll_s=0.05)
        first = await hook.trigger("slow", {"X": "1"})
        again = await hook.trigger("slow", {"X": "1"})
        other = await hook.trigger("slow", {"X": "2"})
        assert first == again != other
        await hook.run(HookSpec(kind="jenkins", target="post", timeout_s=10), CONTEXT)
        builds = (await client.get(f"{url}/_sim/builds")).json()
    assert any(b["parameters"].get("VMSCALE_ACTIVITY_ID") == "act-1" for b in builds)


async def test_cancelled_items_wrong_tokens_and_missing_jobs_are_typed_errors(
    jenkins: tuple[str, str, str, str],
) -> None:
    url, user, _, token = jenkins
    script(url, "cancelled", cancel=True)
    async with httpx.AsyncClient(trust_env=False) as client:
        hook = JenkinsHook(client, url, user, token=SecretStr(token), poll_s=0.05)
        with pytest.raises(PermanentError, match="cancelled"):
            await hook.run(HookSpec(kind="jenkins", target="cancelled", timeout_s=10), CONTEXT)
        with pytest.raises(PermanentError, match="not found"):
            await hook.run(HookSpec(kind="jenkins", target="no-such-job", timeout_s=10), CONTEXT)
        bad = JenkinsHook(client, url, user, token=SecretStr("wrong"), poll_s=0.05)
        with pytest.raises(Unauthorized):
            await bad.run(HookSpec(kind="jenkins", target="post", timeout_s=10), CONTEXT)


def test_the_lab_registers_the_jenkins_part(tmp_path: Path) -> None:
    from lab.parts import all_parts

    assert "jenkins" in [p.name for p in all_parts(LabConfig(lab_dir=tmp_path))]


async def test_the_health_ping_takes_our_credentials_and_says_when_they_are_wrong(
    jenkins: tuple[str, str, str, str],
) -> None:
    url, user, password, token = jenkins
    async with httpx.AsyncClient(trust_env=False) as client:
        await JenkinsHook(client, url, user, token=SecretStr(token)).ping()
        await JenkinsHook(client, url, user, password=SecretStr(password)).ping()
        with pytest.raises(Unauthorized):
            await JenkinsHook(client, url, user, token=SecretStr("0" * 34)).ping()
        with pytest.raises(ServiceUnavailable):
            await JenkinsHook(client, f"http://127.0.0.1:{free_port()}", user, token=SecretStr(token)).ping()


def test_the_lab_hands_the_scaler_its_jenkins_token_as_a_file(tmp_path: Path) -> None:
    config = LabConfig(lab_dir=tmp_path)
    part = jenkins_part(config)
    lab = Lab(tmp_path, [part])
    assert part.prepare is not None
    lab.part_dir(part).mkdir(parents=True)
    part.prepare(lab.part_dir(part))
    env = service_env(config, gateway_url="http://127.0.0.1:6010")
    assert env["JENKINS_URL"] == f"http://127.0.0.1:{config.jenkins_port}"
    assert env["JENKINS_USER"] == read_credentials(lab.part_dir(part))[0]
    assert Path(env["JENKINS_TOKEN_FILE"]).read_text().strip() == read_credentials(lab.part_dir(part))[2]


async def test_a_restarted_scaler_follows_the_build_it_queued_and_queues_nothing(
    jenkins: tuple[str, str, str, str],
) -> None:
    url, user, _, token = jenkins
    script(url, "resumed", queue_delay_s=0.3, build_s=0.5)
    spec = HookSpec(kind="jenkins", target="resumed", timeout_s=10)
    context = {**CONTEXT, "activity_id": "act-restart"}
    handles: list[str] = []

    async def remember(value: str) -> None:
        handles.append(value)
        if len(handles) == 1:
            raise asyncio.CancelledError  # the scaler stops right after Jenkins queued the build

    async with httpx.AsyncClient(trust_env=False) as client:
        before = JenkinsHook(client, url, user, token=SecretStr(token), poll_s=0.05)
        with pytest.raises(asyncio.CancelledError):
            await before.run(spec, context, on_checkpoint=remember)
    assert "/queue/item/" in handles[0]

    async with httpx.AsyncClient(trust_env=False) as client:  # a new process, the stored queue item
        after = JenkinsHook(client, url, user, token=SecretStr(token), poll_s=0.05)
        result = await after.run(spec, context, checkpoint=handles[0], on_checkpoint=remember)
        assert result.startswith("resumed #") and result.endswith("SUCCESS")
        assert "/job/resumed/" in handles[1]  # the build URL replaces the queue item once it runs
        again = await after.run(spec, context, checkpoint=handles[1])  # restarted again: the build URL
        assert again == result
        builds = (await client.get(f"{url}/_sim/builds")).json()
    ours = [b for b in builds if b["parameters"].get("VMSCALE_ACTIVITY_ID") == "act-restart"]
    assert len(ours) == 1
