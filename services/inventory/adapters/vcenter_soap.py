"""A lean SOAP path for the two bulk calls, parsed as a stream.

pyvmomi's deserializer spends most of a 10,000-VM ``RetrievePropertiesEx`` in Python SAX
callbacks (about 2.5-4 s here). The bulk calls -- ``RetrievePropertiesEx`` /
``ContinueRetrievePropertiesEx`` and ``WaitForUpdatesEx`` -- are therefore sent on the session
pyvmomi opened (same endpoint, TLS context and session cookie) and their answers are parsed with
``xml.etree.ElementTree.iterparse`` straight from the socket, one object at a time. Everything
else stays on pyvmomi.

Values are decoded generically: XML Schema primitives by ``xsi:type``, managed object
references as ``Moref``, ``ArrayOf*`` as lists, complex values as ``{child tag: [values]}``.
"""

from __future__ import annotations

import http.client
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

__all__ = [
    "Endpoint",
    "Moref",
    "ObjectUpdate",
    "PropertySet",
    "RawSoap",
    "SoapFault",
    "UpdateBatch",
    "first",
]

_XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"
_VIM = "{urn:vim25}"
_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"


@dataclass(frozen=True, slots=True)
class Moref:
    """A managed object reference: its type and id."""

    type: str
    value: str


@dataclass(frozen=True)
class Endpoint:
    """Where the SOAP endpoint is and how to reach it (taken from pyvmomi's stub)."""

    host: str
    port: int
    path: str
    ssl_context: ssl.SSLContext | None
    timeout: float


class SoapFault(Exception):
    """A SOAP fault: the vim fault type name (``NotAuthenticated``) and its message."""

    def __init__(self, fault_type: str, message: str) -> None:
        super().__init__(f"{fault_type}: {message}")
        self.fault_type = fault_type
        self.message = message


PropertySet = dict[str, Any]
"""Property path → decoded value for one object."""


@dataclass
class ObjectUpdate:
    """One ``ObjectUpdate`` of ``WaitForUpdatesEx``: kind, object, changed properties."""

    kind: str
    obj: Moref
    changes: list[tuple[str, str, Any]] = field(default_factory=list)


@dataclass
class UpdateBatch:
    """One ``UpdateSet``; ``None`` version means the wait timed out with nothing new.

    ``received_at`` is when vCenter's answer began to arrive (``time.perf_counter``), which
    splits a change's delay into vCenter's part and ours.
    """

    version: str | None
    truncated: bool
    objects: list[ObjectUpdate]
    received_at: float = 0.0


def first(value: Any, default: Any = None) -> Any:
    """The first item of a decoded list (complex values keep every child as a list)."""
    if isinstance(value, list):
        return value[0] if value else default
    return default if value is None else value


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


_PRIMITIVES: dict[str, Any] = {
    "xsd:boolean": lambda text: text == "true",
    "xsd:int": int,
    "xsd:long": int,
    "xsd:short": int,
    "xsd:byte": int,
}


def decode(element: ET.Element) -> Any:
    """Decode a ``val`` (or nested) element into plain Python values."""
    kind = element.get(_XSI)
    if kind is not None:
        if kind.startswith("xsd:"):
            text = element.text or ""
            convert = _PRIMITIVES.get(kind)
            return convert(text) if convert else text
        if kind == "ManagedObjectReference":
            return Moref(element.get("type", ""), element.text or "")
        if kind.startswith("ArrayOf"):
            return [decode(child) for child in element]
    children = list(element)
    if not children:
        if element.get("type") is not None:
            return Moref(element.get("type", ""), element.text or "")
        return element.text or ""
    out: dict[str, list[Any]] = {}
    for child in children:
        out.setdefault(_local(child.tag), []).append(decode(child))
    return out


def _prop_spec(type_name: str, paths: Sequence[str]) -> str:
    joined = "".join(f"<pathSet>{escape(p)}</pathSet>" for p in paths)
    return f"<propSet><type>{type_name}</type>{joined}</propSet>"


def retrieve_body(collector: str, view: str, specs: dict[str, Sequence[str]], max_objects: int) -> str:
    """``RetrievePropertiesEx`` over a container view, one property spec per type."""
    props = "".join(_prop_spec(t, p) for t, p in specs.items())
    return (
        f'<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">'
        f"{escape(collector)}</_this><specSet>{props}"
        f'<objectSet><obj type="ContainerView">{escape(view)}</obj><skip>true</skip>'
        '<selectSet xsi:type="TraversalSpec"><type>ContainerView</type><path>view</path>'
        "<skip>false</skip></selectSet></objectSet></specSet>"
        f"<options><maxObjects>{max_objects}</maxObjects></options></RetrievePropertiesEx>"
    )


class RawSoap:
    """Sends a SOAP body on an existing session and streams the answer."""

    def __init__(self, endpoint: Endpoint, cookie: str, action: str) -> None:
        self._endpoint = endpoint
        self._cookie = cookie.split(";", 1)[0]
        self._action = action

    def _post(self, body: str) -> http.client.HTTPResponse:
        e = self._endpoint
        connection: http.client.HTTPConnection
        if e.ssl_context is not None:
            connection = http.client.HTTPSConnection(e.host, e.port, timeout=e.timeout, context=e.ssl_context)
        else:
            connection = http.client.HTTPConnection(e.host, e.port, timeout=e.timeout)
        envelope = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
            f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
        )
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": self._action,
            "Cookie": self._cookie,
        }
        connection.request("POST", e.path, envelope.encode("utf-8"), headers)
        return connection.getresponse()

    def _events(self, body: str, arrived: list[float] | None = None) -> Iterator[tuple[str, ET.Element]]:
        response = self._post(body)
        if arrived is not None:
            arrived.append(time.perf_counter())
        try:
            if response.status >= 400 and response.status != 500:
                raise ConnectionError(f"HTTP {response.status} from vCenter")
            for event, element in ET.iterparse(response, events=("end",)):  # noqa: S314 - vCenter is a configured peer; expat limits entity expansion
                if element.tag == _ENV + "Fault":
                    raise _fault(element)
                yield event, element
        finally:
            response.close()

    def retrieve(
        self, collector: str, view: str, specs: dict[str, Sequence[str]], max_objects: int
    ) -> tuple[list[tuple[Moref, PropertySet]], str | None]:
        """One page of ``RetrievePropertiesEx`` and its continuation token."""
        return self._objects(self._events(retrieve_body(collector, view, specs, max_objects)))

    def continue_retrieve(self, collector: str, token: str) -> tuple[list[tuple[Moref, PropertySet]], str | None]:
        """The next page for ``token``."""
        body = (
            f'<ContinueRetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">'
            f"{escape(collector)}</_this><token>{escape(token)}</token>"
            "</ContinueRetrievePropertiesEx>"
        )
        return self._objects(self._events(body))

    @staticmethod
    def _objects(
        events: Iterator[tuple[str, ET.Element]],
    ) -> tuple[list[tuple[Moref, PropertySet]], str | None]:
        out: list[tuple[Moref, PropertySet]] = []
        token: str | None = None
        for _, element in events:
            tag = element.tag
            if tag == _VIM + "objects":
                obj = element.find(_VIM + "obj")
                props: PropertySet = {}
                for prop in element.iterfind(_VIM + "propSet"):
                    name = prop.findtext(_VIM + "name") or ""
                    val = prop.find(_VIM + "val")
                    props[name] = decode(val) if val is not None else None
                if obj is not None:
                    out.append((Moref(obj.get("type", ""), obj.text or ""), props))
                element.clear()
            elif tag == _VIM + "token":
                token = element.text
        return out, token

    def wait_for_updates(
        self,
        collector: str,
        version: str,
        max_wait_s: int,
        max_updates: int,
        on_update: Callable[[ObjectUpdate], None] | None = None,
    ) -> UpdateBatch:
        """``WaitForUpdatesEx``; an empty answer (timeout) gives ``version=None``.

        With ``on_update`` each object update is handed over as soon as it is parsed instead of
        being collected in ``objects`` (a first answer holds the whole inventory: this keeps
        the memory peak at one object, not all of them).
        """
        body = (
            f'<WaitForUpdatesEx xmlns="urn:vim25"><_this type="PropertyCollector">'
            f"{escape(collector)}</_this><version>{escape(version)}</version>"
            f"<options><maxWaitSeconds>{max_wait_s}</maxWaitSeconds>"
            f"<maxObjectUpdates>{max_updates}</maxObjectUpdates></options></WaitForUpdatesEx>"
        )
        batch = UpdateBatch(version=None, truncated=False, objects=[])
        arrived: list[float] = []
        for _, element in self._events(body, arrived):
            tag = element.tag
            if tag == _VIM + "objectSet":
                obj = element.find(_VIM + "obj")
                update = ObjectUpdate(
                    kind=element.findtext(_VIM + "kind") or "modify",
                    obj=Moref(
                        obj.get("type", "") if obj is not None else "", (obj.text or "") if obj is not None else ""
                    ),
                )
                for change in element.iterfind(_VIM + "changeSet"):
                    val = change.find(_VIM + "val")
                    update.changes.append(
                        (
                            change.findtext(_VIM + "name") or "",
                            change.findtext(_VIM + "op") or "assign",
                            decode(val) if val is not None else None,
                        )
                    )
                if on_update is None:
                    batch.objects.append(update)
                else:
                    on_update(update)
                element.clear()
            elif tag == _VIM + "version":
                batch.version = element.text or ""
            elif tag == _VIM + "truncated":
                batch.truncated = (element.text or "") == "true"
        batch.received_at = arrived[0] if arrived else 0.0
        return batch


def _fault(element: ET.Element) -> SoapFault:
    message = element.findtext("faultstring") or ""
    detail = element.find("detail")
    kind = "SoapFault"
    if detail is not None:
        for child in detail:
            kind = child.get(_XSI) or _local(child.tag).removesuffix("Fault") or kind
            break
    return SoapFault(kind, message)
