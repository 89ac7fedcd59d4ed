"""The Jenkins simulator's HTTP API, from Jenkins' remote-access documentation.

* Basic auth with ``user:API_TOKEN`` is exempt from CSRF (no crumb needed).
* ``user:password`` must send the crumb from ``GET /crumbIssuer/api/json`` together with the
  session cookie that came with it; otherwise POSTs get 403 "No valid crumb was included".
* Wrong credentials get 401; anonymous requests get 403.
* ``POST /job/<name>/buildWithParameters`` → 201 with ``Location: <base>/queue/item/<id>/``.
* ``GET /queue/item/<id>/api/json`` → ``executable.number`` once started, ``cancelled`` if cancelled,
  404 once forgotten. ``GET /job/<name>/<n>/api/json`` → ``building`` and ``result``.

Test control (lab only, no auth): ``POST /_sim/jobs/<name>`` scripts a job's result and delays;
``GET /_sim/builds`` lists builds with their parameters.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lab.jenkins_sim.model import RESULTS, JenkinsState, Job

__all__ = ["create_app"]

VERSION = "2.440.3"
COOKIE = "JSESSIONID.vmscale"
CRUMB_FIELD = "Jenkins-Crumb"


def _headers() -> dict[str, str]:
    return {"X-Jenkins": VERSION}


def _credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, secret


def create_app(state: JenkinsState) -> Starlette:
    """The simulator over ``state``."""

    def authenticate(request: Request) -> str | Response:
        creds = _credentials(request)
        if creds is None:
            return PlainTextResponse("Authentication required", status_code=403, headers=_headers())
        kind = state.check(*creds)
        if kind is None:
            return PlainTextResponse(
                "Invalid password/token for user: " + creds[0], status_code=401, headers=_headers()
            )
        return kind

    def csrf(request: Request, kind: str) -> Response | None:
        if kind == "token":
            return None
        session = request.cookies.get(COOKIE, "")
        expected = state.sessions.get(session)
        if not expected or request.headers.get(CRUMB_FIELD) != expected:
            return PlainTextResponse("No valid crumb was included in the request", status_code=403, headers=_headers())
        return None

    async def root(request: Request) -> Response:
        kind = authenticate(request)
        if isinstance(kind, Response):
            return kind
        jobs = [{"name": j.name, "url": f"{request.base_url}job/{j.name}/"} for j in state.jobs.values()]
        return JSONResponse({"_class": "hudson.model.Hudson", "jobs": jobs, "useCrumbs": True}, headers=_headers())

    async def login(request: Request) -> Response:
        return PlainTextResponse("Jenkins (simulator)", headers=_headers())

    async def crumb(request: Request) -> Response:
        kind = authenticate(request)
        if isinstance(kind, Response):
            return kind
        session, value = state.new_session()
        response = JSONResponse(
            {"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": value, "crumbRequestField": CRUMB_FIELD},
            headers=_headers(),
        )
        response.set_cookie(COOKIE, session, httponly=True)
        return response

    async def build_with_parameters(request: Request) -> Response:
        kind = authenticate(request)
        if isinstance(kind, Response):
            return kind
        refused = csrf(request, kind)
        if refused is not None:
            return refused
        name = request.path_params["name"]
        if name not in state.jobs:
            return PlainTextResponse("Not Found", status_code=404, headers=_headers())
        body = (await request.body()).decode()
        parameters = dict(parse_qsl(body)) | dict(request.query_params)
        item = state.enqueue(name, parameters)
        location = f"{request.base_url}queue/item/{item.id}/"
        return Response(status_code=201, headers={**_headers(), "Location": location})

    async def queue_item(request: Request) -> Response:
        kind = authenticate(request)
        if isinstance(kind, Response):
            return kind
        item = state.item(int(request.path_params["item"]))
        if item is None:
            return PlainTextResponse("Not Found", status_code=404, headers=_headers())
        body: dict[str, Any] = {
            "_class": "hudson.model.Queue$LeftItem" if item.left_at is not None else "hudson.model.Queue$WaitingItem",
            "id": item.id,
            "task": {"name": item.job, "url": f"{request.base_url}job/{item.job}/"},
            "cancelled": item.cancelled,
            "why": None if item.left_at is not None else "Waiting for next available executor",
            "executable": None,
        }
        if item.number is not None:
            body["executable"] = {"number": item.number, "url": f"{request.base_url}job/{item.job}/{item.number}/"}
        return JSONResponse(body, headers=_headers())

    async def build(request: Request) -> Response:
        kind = authenticate(request)
        if isinstance(kind, Response):
            return kind
        found = state.build(request.path_params["name"], int(request.path_params["number"]))
        if found is None:
            return PlainTextResponse("Not Found", status_code=404, headers=_headers())
        building = state.clock() - found.started_at < found.duration_s
        return JSONResponse(
            {
                "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                "number": found.number,
                "building": building,
                "result": None if building else found.result,
                "url": f"{request.base_url}job/{found.job}/{found.number}/",
                "actions": [
                    {
                        "_class": "hudson.model.ParametersAction",
                        "parameters": [{"name": k, "value": v} for k, v in sorted(found.parameters.items())],
                    }
                ],
            },
            headers=_headers(),
        )

    async def sim_job(request: Request) -> Response:
        name = request.path_params["name"]
        spec = await request.json() if await request.body() else {}
        result = str(spec.get("result", "SUCCESS"))
        if result not in RESULTS:
            return JSONResponse({"error": f"result must be one of {sorted(RESULTS)}"}, status_code=400)
        job = state.jobs.get(name) or Job(name=name)
        job.result = result
        job.queue_delay_s = float(spec.get("queue_delay_s", job.queue_delay_s))
        job.build_s = float(spec.get("build_s", job.build_s))
        job.cancel = bool(spec.get("cancel", False))
        state.jobs[name] = job
        return JSONResponse({"name": name, "result": job.result})

    async def sim_builds(request: Request) -> Response:
        return JSONResponse(
            [{"job": b.job, "number": b.number, "parameters": b.parameters} for b in state.builds.values()]
        )

    routes = [
        Route("/api/json", root),
        Route("/login", login),
        Route("/crumbIssuer/api/json", crumb),
        Route("/job/{name}/buildWithParameters", build_with_parameters, methods=["POST"]),
        Route("/queue/item/{item:int}/api/json", queue_item),
        Route("/job/{name}/{number:int}/api/json", build),
        Route("/_sim/jobs/{name}", sim_job, methods=["POST"]),
        Route("/_sim/builds", sim_builds),
    ]
    return Starlette(routes=routes)
