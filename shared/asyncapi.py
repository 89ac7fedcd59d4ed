"""An AsyncAPI 3.0 document of the whole contract, built from ``shared.subjects``.

It is derived from the same ``Subject(name, model)`` pairs the services subscribe with, so it
cannot drift from the code. Served by the gateway (read-only: there is no "try it out" endpoint
that could publish to the real broker) and written to files by ``vmscale asyncapi``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared import subjects
from shared.runtime import VERSION
from shared.subjects import Kind, Subject

__all__ = ["build_asyncapi"]

_ACTION = {Kind.COMMAND: "receive", Kind.EVENT: "send", Kind.QUERY: "receive", Kind.SIGNAL: "send"}


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _channel_id(subject: Subject[Any]) -> str:
    return subject.name.replace(".", "_").replace(">", "all")


def build_asyncapi(prefix: str = "") -> dict[str, Any]:
    """The AsyncAPI document: one channel per subject, one message per model."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for subject in subjects.ALL:
        channel = _channel_id(subject)
        address = f"{prefix}.{subject.name}" if prefix else subject.name
        models = [subject.model] + ([subject.reply] if subject.reply else [])
        channel_messages = {}
        for model in models:
            messages[model.__name__] = {
                "name": model.__name__,
                "title": model.__name__,
                "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
                "contentType": "application/json",
                "payload": _schema(model, schemas),
            }
            channel_messages[model.__name__] = {"$ref": f"#/components/messages/{model.__name__}"}
        channels[channel] = {
            "address": address,
            "description": f"{subject.kind.value}: {(subject.model.__doc__ or '').strip()}",
            "messages": channel_messages,
        }
        operation: dict[str, Any] = {
            "action": _ACTION[subject.kind],
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{subject.model.__name__}"}],
            "tags": [{"name": subject.kind.value}, {"name": subject.area}],
        }
        if subject.reply is not None:
            operation["reply"] = {"messages": [{"$ref": f"#/channels/{channel}/messages/{subject.reply.__name__}"}]}
        operations[channel] = operation
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "vmscale events and commands",
            "version": VERSION,
            "description": (
                "Commands (cmd.*) and events are stored in JetStream (Nats-Msg-Id = message_id); "
                "queries are core NATS request/reply. Dead letters go to dlq.<subject>."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
