"""An HTTP hook's URL (and the token in it) never reaches an error; each call carries an
idempotency key, since hooks run at least once; a hook authenticates through a secret reference
the scaler resolves at call time, never a secret held by the group."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from services.scaler.adapters.hook_secrets import ENV_PREFIX, HookSecrets
from services.scaler.adapters.hooks import HttpHook
from services.scaler.domain import HookSpec
from shared.errors import ConfigurationError, OperationTimeout, PermanentError, ServiceUnavailable, VmscaleError
from shared.problems import field_errors

TOKEN = "t0ken-s3cret"
TARGET = f"http://ops:pw@127.0.0.1:9/hooks/ready?token={TOKEN}"


def hook_answering(handler) -> HttpHook:
    return HttpHook(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def refused(request: httpx.Request) -> httpx.Response:
    return httpx.Response(403, text="no")


def broken(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def slow(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.mark.parametrize(
    ("handler", "target", "error"),
    [
        (refused, TARGET, PermanentError),
        (broken, TARGET, ServiceUnavailable),
        (slow, TARGET, OperationTimeout),
        (refused, f"http://127.9.9.9/hooks?token={TOKEN}", ConfigurationError),
    ],
    ids=["4xx", "unreachable", "timeout", "host-not-allowed"],
)
async def test_a_failing_hook_names_only_its_scheme_and_host(handler, target: str, error: type[VmscaleError]) -> None:
    with pytest.raises(error) as caught:
        await hook_answering(handler).run(HookSpec(kind="http", target=target), {"activity_id": "a-1"})
    shown = f"{caught.value} {caught.value.details!r}"
    assert TOKEN not in shown and "pw@" not in shown and "/hooks" not in shown


async def test_each_call_carries_the_activity_step_and_vm_as_its_idempotency_key() -> None:
    keys: list[str | None] = []

    def record(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("idempotency-key"))
        return httpx.Response(204)

    hook = hook_answering(record)
    spec = HookSpec(kind="http", target="http://127.0.0.1:9/hook")
    context = {"activity_id": "act-7", "step": "post_provision_hook", "vm_name": "web-3"}
    await hook.run(spec, context)
    await hook.run(spec, context)  # the step ran again after a crash: same key
    await hook.run(spec, {"activity_id": "act-7", "vm_name": "web-4"})
    await hook.run(spec, {})
    assert keys == ["act-7:post_provision_hook:web-3", "act-7:post_provision_hook:web-3", "act-7:web-4", None]


# -- secret references: the group names a secret, the scaler resolves it at call time ----------


def hook_with(secrets: HookSecrets, seen: list[httpx.Request]) -> HttpHook:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    return HttpHook(httpx.AsyncClient(transport=httpx.MockTransport(record)), secrets=secrets)


async def test_an_env_reference_is_sent_as_a_bearer_token_and_never_held_by_the_group() -> None:
    seen: list[httpx.Request] = []
    hook = hook_with(HookSecrets(environ={f"{ENV_PREFIX}DEPLOY": TOKEN}), seen)
    spec = HookSpec(kind="http", target="http://127.0.0.1:9/hook", secret_ref="env:DEPLOY")
    await hook.run(spec, {"activity_id": "a-1"})
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in seen[0].url.query.decode() and TOKEN not in seen[0].content.decode()
    assert TOKEN not in spec.model_dump_json()


async def test_a_file_reference_is_read_at_each_call_so_a_rotated_secret_is_used_at_once(tmp_path: Path) -> None:
    (tmp_path / "deploy.token").write_text("first-secret\n")
    seen: list[httpx.Request] = []
    hook = hook_with(HookSecrets(str(tmp_path), environ={}), seen)
    spec = HookSpec(kind="http", target="http://127.0.0.1:9/hook", secret_ref="file:deploy.token")
    await hook.run(spec, {"activity_id": "a-1"})
    (tmp_path / "deploy.token").write_text("second-secret\n")
    await hook.run(spec, {"activity_id": "a-2"})
    assert [r.headers["authorization"] for r in seen] == ["Bearer first-secret", "Bearer second-secret"]


async def test_a_hook_without_a_reference_sends_no_credentials() -> None:
    seen: list[httpx.Request] = []
    await hook_with(HookSecrets(environ={}), seen).run(
        HookSpec(kind="http", target="http://127.0.0.1:9/hook"), {"activity_id": "a-1"}
    )
    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("ref", "secrets", "reason"),
    [
        ("env:DEPLOY", HookSecrets(environ={}), "VMSCALE_HOOK_SECRET_DEPLOY is empty or unset"),
        # only the hook-secret prefix is readable: a group cannot make the scaler send its NATS password
        ("env:NATS_PASSWORD", HookSecrets(environ={"NATS_PASSWORD": TOKEN}), "is empty or unset"),
        ("file:deploy.token", HookSecrets(environ={}), "HOOK_SECRETS_DIR is not set"),
        ("file:missing", HookSecrets("/nonexistent-vmscale-secrets", environ={}), "cannot be read"),
    ],
    ids=["env-unset", "env-outside-prefix", "no-directory", "file-missing"],
)
async def test_an_unresolvable_reference_fails_naming_the_reference_and_calls_nothing(
    ref: str, secrets: HookSecrets, reason: str
) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ConfigurationError) as caught:
        await hook_with(secrets, seen).run(
            HookSpec(kind="http", target="http://127.0.0.1:9/hook", secret_ref=ref), {"activity_id": "a-1"}
        )
    assert reason in str(caught.value) and ref in str(caught.value)
    assert TOKEN not in f"{caught.value} {caught.value.details!r}"
    assert seen == []


@pytest.mark.parametrize(
    "ref", ["file:../etc/passwd", "file:/etc/shadow", "file:a/b", "file:..", "env:NATS-PASSWORD", "vault:x", "env:"]
)
def test_a_reference_outside_the_two_forms_is_refused_with_the_group(ref: str) -> None:
    with pytest.raises(ValidationError, match="secret_ref"):
        HookSpec(kind="http", target="http://127.0.0.1:9/hook", secret_ref=ref)


def test_a_jenkins_hook_takes_no_secret_reference() -> None:
    with pytest.raises(ValidationError, match="Jenkins credentials"):
        HookSpec(kind="jenkins", target="deploy", secret_ref="env:DEPLOY")


def test_a_token_typed_as_the_reference_is_refused_in_words_that_never_repeat_it() -> None:
    with pytest.raises(ValidationError) as caught:
        HookSpec(kind="http", target="http://127.0.0.1:9/hook", secret_ref=TOKEN)
    (error,) = field_errors(caught.value)
    assert error["field"] == "secret_ref" and "env:NAME" in error["message"] and "file:NAME" in error["message"]
    assert TOKEN not in error["message"]
