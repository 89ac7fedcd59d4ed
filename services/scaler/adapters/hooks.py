"""Lifecycle hooks (a Jenkins job or an HTTP endpoint) and the application health probe.

Jenkins, per its remote-access docs (docs/architecture.md §5): ``POST /job/<name>/buildWithParameters``
answers 201 with ``Location: <jenkins>/queue/item/<id>/``; the queue item gains
``executable.number`` (or ``cancelled: true``); the build's ``result`` is final once
``building`` is false. API-token basic auth needs no crumb; password auth fetches a crumb from
``/crumbIssuer/api/json`` and keeps the session cookie. The activity id is always passed as a
parameter, so Jenkins never folds two activities' runs into one queue item. The queue item URL
is checkpointed in the activity's step, so a restarted scaler follows the build it queued
instead of queueing another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from services.scaler.adapters.hook_secrets import HookSecrets
from services.scaler.domain.model import HookSpec
from shared.errors import (
    ConfigurationError,
    NotFound,
    OperationTimeout,
    PermanentError,
    ServiceUnavailable,
    Unauthorized,
)
from shared.redaction import mask_url

__all__ = ["HookRunner", "HttpHealthProbe", "HttpHook", "JenkinsHook"]


def _map_status(response: httpx.Response, what: str) -> None:
    if response.status_code in (401, 403):
        raise Unauthorized(f"{what}: {response.status_code} {response.reason_phrase}")
    if response.status_code == 404:
        raise NotFound(f"{what}: not found")
    if response.status_code >= 500:
        raise ServiceUnavailable(f"{what}: {response.status_code}")
    if response.status_code >= 400:
        raise PermanentError(f"{what}: {response.status_code} {response.text[:200]}")


class JenkinsHook:
    """Triggers a Jenkins job with parameters and follows it to its result."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        user: str,
        token: SecretStr | None = None,
        password: SecretStr | None = None,
        poll_s: float = 1.0,
    ) -> None:
        if token is None and password is None:
            raise ConfigurationError("Jenkins needs an API token or a password")
        self._client = client
        self._base = base_url.rstrip("/")
        self._user = user
        self._secret = token or password
        self._crumb = password is not None and token is None
        self._poll = poll_s

    def _auth(self) -> httpx.BasicAuth:
        assert self._secret is not None
        return httpx.BasicAuth(self._user, self._secret.get_secret_value())

    async def _call(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, auth=self._auth(), **kwargs)
        except httpx.TimeoutException as exc:
            raise OperationTimeout(f"{what}: Jenkins timed out") from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{what}: Jenkins unreachable ({type(exc).__name__})") from exc
        _map_status(response, what)
        return response

    async def _headers(self) -> dict[str, str]:
        if not self._crumb:
            return {}
        body = (await self._call("GET", f"{self._base}/crumbIssuer/api/json", "crumb")).json()
        return {str(body["crumbRequestField"]): str(body["crumb"])}

    async def ping(self) -> None:
        """One authenticated round trip (``GET /api/json``): Jenkins answers and takes our credentials."""
        await self._call("GET", f"{self._base}/api/json", "Jenkins", params={"tree": "mode"})

    async def trigger(self, job: str, parameters: dict[str, str]) -> str:
        """Queue a build; returns the queue item URL."""
        path = "/".join(f"job/{quote(part, safe='')}" for part in job.split("/"))
        response = await self._call(
            "POST",
            f"{self._base}/{path}/buildWithParameters",
            f"trigger {job}",
            data=parameters,
            headers=await self._headers(),
        )
        location = str(response.headers.get("Location", ""))
        if response.status_code != 201 or not location:
            raise PermanentError(f"trigger {job}: Jenkins answered {response.status_code} without a queue item")
        if urlsplit(location).netloc != urlsplit(self._base).netloc:
            raise PermanentError(f"trigger {job}: queue item {location} is not on {self._base}")
        return location.rstrip("/") + "/"

    async def follow(
        self,
        job: str,
        queue_url: str,
        deadline: float,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Wait for the queued build to run and end; returns its result (SUCCESS only).

        ``queue_url`` is a queue item (the build URL goes to ``on_checkpoint`` once it runs,
        since Jenkins forgets queue items a few minutes later) or already a build URL."""
        last = urlsplit(queue_url).path.rstrip("/").rsplit("/", 1)[-1]
        if "/queue/item/" not in urlsplit(queue_url).path and last.isdigit():
            return await self._until_done(job, int(last), queue_url, deadline)
        number: int | None = None
        build_url = ""
        while number is None:
            item = (await self._call("GET", f"{queue_url}api/json", f"queue item of {job}")).json()
            if item.get("cancelled"):
                raise PermanentError(f"{job}: queue item cancelled ({item.get('why') or 'no reason'})")
            executable = item.get("executable") or {}
            if "number" in executable:
                number = int(executable["number"])
                build_url = str(executable.get("url") or "")
                break
            await self._wait(deadline, job)
        path = "/".join(f"job/{quote(part, safe='')}" for part in job.split("/"))
        url = (
            build_url if urlsplit(build_url).netloc == urlsplit(self._base).netloc else f"{self._base}/{path}/{number}/"
        )
        if on_checkpoint is not None:
            await on_checkpoint(url)
        return await self._until_done(job, number, url, deadline)

    async def _until_done(self, job: str, number: int, url: str, deadline: float) -> str:
        """Poll the build at ``url`` until it ends; its result, SUCCESS only."""
        while True:
            build = (await self._call("GET", f"{url.rstrip('/')}/api/json", f"build {job} #{number}")).json()
            if not build.get("building", True) and build.get("result"):
                result = str(build["result"])
                if result != "SUCCESS":
                    raise PermanentError(f"{job} #{number} ended {result}", job=job, build=number)
                return f"{job} #{number} {result}"
            await self._wait(deadline, job)

    async def _wait(self, deadline: float, job: str) -> None:
        if time.monotonic() >= deadline:
            raise OperationTimeout(f"{job} did not finish in time")
        await asyncio.sleep(self._poll)

    async def run(
        self,
        spec: HookSpec,
        context: dict[str, str],
        *,
        checkpoint: str | None = None,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Trigger ``spec.target`` with its parameters plus the context, follow it to SUCCESS.

        The queue item URL is handed to ``on_checkpoint`` as soon as Jenkins gives it; a run
        given that URL back as ``checkpoint`` (after a restart) follows it and queues nothing.
        """
        deadline = time.monotonic() + spec.timeout_s
        if checkpoint and urlsplit(checkpoint).netloc == urlsplit(self._base).netloc:
            return await self.follow(spec.target, checkpoint, deadline, on_checkpoint)
        parameters = {**spec.parameters, **{f"VMSCALE_{k.upper()}": v for k, v in context.items()}}
        queue_url = await self.trigger(spec.target, parameters)
        if on_checkpoint is not None:
            await on_checkpoint(queue_url)
        return await self.follow(spec.target, queue_url, deadline, on_checkpoint)


class HttpHook:
    """POSTs the context as JSON to an allowed URL; any 2xx is success. A hook with a
    ``secret_ref`` authenticates with ``Authorization: Bearer`` and the secret it names."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        allowed_hosts: frozenset[str] = frozenset({"127.0.0.1", "localhost"}),
        secrets: HookSecrets | None = None,
    ) -> None:
        self._client = client
        self._allowed = allowed_hosts
        self._secrets = secrets or HookSecrets()

    async def run(
        self,
        spec: HookSpec,
        context: dict[str, str],
        *,
        checkpoint: str | None = None,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Call the hook; 4xx is a permanent failure, 5xx and network errors retryable.
        One request, nothing to follow: a repeat is told apart by its ``Idempotency-Key``."""
        host = urlsplit(spec.target).hostname or ""
        shown = mask_url(spec.target)  # the URL may carry a token: never in an error or a log
        if host not in self._allowed:
            raise ConfigurationError(f"hook host {host!r} is not allowed", hook=shown)
        headers = _idempotency(context)
        if spec.secret_ref:  # resolved now, never stored with the group; errors name the reference only
            headers["Authorization"] = f"Bearer {self._secrets.resolve(spec.secret_ref)}"
        try:
            response = await self._client.post(
                spec.target,
                json={"parameters": spec.parameters, **context},
                headers=headers,
                timeout=spec.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise OperationTimeout("hook timed out", hook=shown) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"hook unreachable ({type(exc).__name__})", hook=shown) from exc
        _map_status(response, f"hook {shown}")
        return f"http {response.status_code}"


def _idempotency(context: dict[str, str]) -> dict[str, str]:
    """The ``Idempotency-Key`` header of a hook call (IETF draft): hooks run at least once (a step
    interrupted by a crash or a database outage runs again), so the receiver gets one key per
    activity, step and VM to recognise a repeat by. None without an activity."""
    parts = [context.get(name, "") for name in ("activity_id", "step", "vm_name")]
    return {"Idempotency-Key": ":".join(part for part in parts if part)} if parts[0] else {}


class HookRunner:
    """``LifecycleHook``: dispatches a hook to Jenkins or HTTP by its kind."""

    def __init__(self, http: HttpHook, jenkins: JenkinsHook | None = None) -> None:
        self._http = http
        self._jenkins = jenkins

    async def run(
        self,
        spec: HookSpec,
        context: dict[str, str],
        *,
        checkpoint: str | None = None,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Run the hook (see ``LifecycleHook.run``)."""
        if spec.kind == "jenkins":
            if self._jenkins is None:
                raise ConfigurationError("a Jenkins hook is configured but Jenkins is not", hook=spec.target)
            return await self._jenkins.run(spec, context, checkpoint=checkpoint, on_checkpoint=on_checkpoint)
        return await self._http.run(spec, context)


class HttpHealthProbe:
    """``HealthProbe``: GET the health URL until it answers 2xx/3xx."""

    def __init__(self, client: httpx.AsyncClient, interval_s: float = 1.0) -> None:
        self._client = client
        self._interval = interval_s

    async def wait_healthy(self, url: str, timeout_s: float) -> None:
        """Block until healthy; ``OperationTimeout`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while True:
            try:
                response = await self._client.get(url, timeout=min(5.0, max(timeout_s, 0.1)), follow_redirects=False)
                if response.status_code < 400:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                raise OperationTimeout(f"{url} not healthy after {timeout_s:.0f} s ({last})", url=url)
            await asyncio.sleep(self._interval)
