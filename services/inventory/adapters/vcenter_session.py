# mypy: disable-error-code="no-untyped-call,attr-defined"
"""One vCenter session over pyvmomi: login, re-login on ``NotAuthenticated``, error translation.

pyvmomi is synchronous; every method here blocks and is meant to run in a worker thread.
``VcenterSession.call`` runs a function against the current ``ServiceInstance``; when vCenter
says the session is gone it logs in again (once) and re-runs the function, and bumps
``generation`` so that whoever holds views, filters or continuation tokens (all per session)
knows to rebuild them. Non-idempotent calls pass ``retry=False``: they are not re-run
blindly -- their callers look first whether the first attempt landed.

Vendor errors leave this module only as ``shared.errors`` classes (``translate``), each with a
``reason`` detail from ``FailureReason``.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from services.inventory.adapters.vcenter_soap import Endpoint, RawSoap, SoapFault
from services.inventory.ports import SessionLost
from shared.errors import (
    Conflict,
    NotFound,
    OperationTimeout,
    PermanentError,
    QuotaExceeded,
    ServiceUnavailable,
    Unauthorized,
    VmscaleError,
)
from shared.messages import FailureReason
from shared.telemetry import get_logger

__all__ = ["VENDOR_ERRORS", "ConnectionParams", "SessionLost", "VcenterSession", "translate"]

T = TypeVar("T")
log = get_logger(__name__)


@dataclass(frozen=True)
class ConnectionParams:
    """How to reach vCenter. ``verify_tls=False`` is the explicit, logged "insecure" mode."""

    host: str
    port: int
    username: str
    password: str
    protocol: str = "https"
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_s: float = 30.0

    def __repr__(self) -> str:
        return f"ConnectionParams({self.protocol}://{self.host}:{self.port}, user={self.username!r})"


_FAULTS: list[tuple[type[BaseException], type[VmscaleError], FailureReason]] = [
    (vim.fault.InvalidLogin, Unauthorized, FailureReason.PERMISSION),
    (vim.fault.NoPermission, Unauthorized, FailureReason.PERMISSION),
    (vim.fault.DuplicateName, Conflict, FailureReason.DUPLICATE_NAME),
    (vim.fault.InsufficientResourcesFault, QuotaExceeded, FailureReason.INSUFFICIENT_RESOURCES),
    (vim.fault.OutOfBounds, QuotaExceeded, FailureReason.INSUFFICIENT_RESOURCES),
    (vim.fault.InvalidPowerState, Conflict, FailureReason.INVALID_POWER_STATE),
    (vim.fault.CustomizationFault, PermanentError, FailureReason.CUSTOMIZATION_FAILED),
    (vim.fault.CustomizationPending, Conflict, FailureReason.CUSTOMIZATION_FAILED),
    (vmodl.fault.ManagedObjectNotFound, NotFound, FailureReason.NOT_FOUND),
    (vim.fault.NotFound, NotFound, FailureReason.NOT_FOUND),
    (vim.fault.TaskInProgress, Conflict, FailureReason.CONFLICT),
    (vim.fault.InvalidState, Conflict, FailureReason.CONFLICT),
]

_SOAP_FAULTS: dict[str, tuple[type[VmscaleError], FailureReason]] = {
    "NotAuthenticated": (Unauthorized, FailureReason.PERMISSION),
    "InvalidLogin": (Unauthorized, FailureReason.PERMISSION),
    "NoPermission": (Unauthorized, FailureReason.PERMISSION),
    "ManagedObjectNotFound": (NotFound, FailureReason.NOT_FOUND),
    "InvalidCollectorVersion": (ServiceUnavailable, FailureReason.CONNECTION),
    "RequestCanceled": (ServiceUnavailable, FailureReason.CONNECTION),
}


def translate(exc: BaseException, **details: Any) -> VmscaleError:
    """Our error for a pyvmomi / socket / SOAP error (use as ``raise translate(e) from e``)."""
    if isinstance(exc, VmscaleError):
        return exc
    if isinstance(exc, SoapFault):
        cls, reason = _SOAP_FAULTS.get(exc.fault_type, (ServiceUnavailable, FailureReason.CONNECTION))
        return cls(f"vCenter fault {exc.fault_type}: {exc.message}", reason=reason.value, **details)
    for vendor, cls, reason in _FAULTS:
        if isinstance(exc, vendor):
            message = getattr(exc, "msg", "") or type(exc).__name__
            return cls(f"vCenter: {message}", reason=reason.value, fault=type(exc).__name__, **details)
    if isinstance(exc, socket.timeout | TimeoutError):
        return OperationTimeout("vCenter did not answer in time", reason=FailureReason.TIMEOUT.value, **details)
    if isinstance(exc, OSError | http.client.HTTPException | ConnectionError):
        return ServiceUnavailable(
            f"vCenter unreachable: {type(exc).__name__}", reason=FailureReason.CONNECTION.value, **details
        )
    if isinstance(exc, vmodl.MethodFault):
        message = getattr(exc, "msg", "") or type(exc).__name__
        return PermanentError(f"vCenter: {message}", reason=FailureReason.CONFLICT.value, fault=type(exc).__name__)
    return ServiceUnavailable(f"vCenter call failed: {type(exc).__name__}", reason=FailureReason.CONNECTION.value)


VENDOR_ERRORS = (vmodl.MethodFault, SoapFault, OSError, http.client.HTTPException)
"""What pyvmomi and the network raise; anything else is a bug and propagates unchanged."""


def _is_not_authenticated(exc: BaseException) -> bool:
    if isinstance(exc, vim.fault.NotAuthenticated):
        return True
    return isinstance(exc, SoapFault) and exc.fault_type == "NotAuthenticated"


class VcenterSession:
    """A logged-in pyvmomi ``ServiceInstance`` that heals itself when vCenter drops it."""

    def __init__(self, params: ConnectionParams) -> None:
        self.params = params
        self._si: Any = None
        self._lock = threading.RLock()
        self.generation = 0
        self.about: str | None = None
        self.version: str | None = None
        if not params.verify_tls and params.protocol == "https":
            log.warning("TLS verification of vCenter is OFF (insecure setting)", host=params.host)

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.params.protocol != "https":
            return None
        if not self.params.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.params.ca_file)

    def _login(self) -> Any:
        p = self.params
        try:
            si = SmartConnect(
                host=p.host,
                port=p.port,
                user=p.username,
                pwd=p.password,
                protocol=p.protocol,
                sslContext=self._ssl_context(),
                disableSslCertValidation=not p.verify_tls,
                httpConnectionTimeout=p.timeout_s,
            )
        except Exception as exc:
            raise translate(exc, host=p.host) from exc
        about = si.content.about
        self.about = str(about.fullName)
        self.version = str(about.version)
        self.generation += 1
        log.info("vCenter session opened", host=p.host, vcenter=self.about, generation=self.generation)
        return si

    def instance(self) -> Any:
        """The current ``ServiceInstance``, logging in first if there is none."""
        with self._lock:
            if self._si is None:
                self._si = self._login()
            return self._si

    def relogin(self, seen_generation: int) -> None:
        """Open a new session unless someone already did since ``seen_generation``."""
        with self._lock:
            if self.generation != seen_generation and self._si is not None:
                return
            self._si = None
            self._si = self._login()

    def call(self, fn: Callable[[Any], T], *, retry: bool = True) -> T:
        """Run ``fn(service_instance)``; re-login once on ``NotAuthenticated``.

        With ``retry=False`` the call is not re-run after the re-login: ``SessionLost`` is
        raised so the caller can check what the first attempt did. Raises ``shared.errors``.
        """
        for attempt in (1, 2):
            si = self.instance()
            generation = self.generation
            try:
                return fn(si)
            except VENDOR_ERRORS as exc:
                if _is_not_authenticated(exc) and attempt == 1:
                    log.warning("vCenter session lost; logging in again", generation=generation)
                    self.relogin(generation)
                    if not retry:
                        raise SessionLost() from exc
                    continue
                raise translate(exc) from exc
        raise AssertionError("unreachable")

    def raw(self) -> RawSoap:
        """A raw SOAP caller on the current session (bulk reads, see ``vcenter_soap``)."""
        si = self.instance()
        stub = si._stub
        p = self.params
        endpoint = Endpoint(host=p.host, port=p.port, path="/sdk", ssl_context=self._ssl_context(), timeout=p.timeout_s)
        action = str(getattr(stub, "versionId", "") or '"urn:vim25/6.5"')
        return RawSoap(endpoint, str(stub.cookie or ""), action)

    def keepalive(self) -> None:
        """A cheap call that keeps the session from idling out (and detects a lost one)."""
        self.call(lambda si: si.CurrentTime())

    def close(self) -> None:
        """Log out (vCenter caps concurrent sessions; always release ours)."""
        with self._lock:
            if self._si is not None:
                try:
                    Disconnect(self._si)
                except Exception as exc:
                    log.info("vCenter logout failed", error=type(exc).__name__)
                self._si = None
