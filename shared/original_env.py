"""The original system's environment names, accepted beside vmscale's own (docs/migrating.md).

A field that the original configured under another name declares it with ``original(...)``::

    vcenter_username: str = Field("vmscale", validation_alias=original("vcenter_username", "GOVC_USERNAME"))

pydantic-settings then reads ``VCENTER_USERNAME`` first and ``GOVC_USERNAME`` when only that is
set. ``ServiceSettings`` checks the environment once more when it is built: a setting given under
two names with different values is an error (nothing guesses which one was meant), and every
original name in use yields a one-line deprecation note naming the new name, which the service
logs at start. Names of the original that vmscale does not read at all are listed in
``UNUSED_ORIGINAL_NAMES`` with where that setting went, so an operator's old env file never
configures nothing silently.

``describe_sources`` says where each value of a settings object came from (``file``, ``env``,
``alias``, ``default``): what ``vmscale config check`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

__all__ = [
    "UNUSED_ORIGINAL_NAMES",
    "SettingSource",
    "alias_names",
    "check_original_names",
    "describe_sources",
    "first_given",
    "original",
    "unused_original_names",
]

UNUSED_ORIGINAL_NAMES: dict[str, tuple[str, str]] = {
    "GOVC_DATASTORE": ("inventory", "the datastore is set per group (placement.datastore)"),
    "VCENTER_DATASTORE": ("inventory", "the datastore is set per group (placement.datastore)"),
    "GOVC_RESOURCE_POOL": ("inventory", "the resource pool is set per group (placement.resource_pool)"),
    "VCENTER_RESOURCE_POOL": ("inventory", "the resource pool is set per group (placement.resource_pool)"),
    "JENKINS_WEBHOOK_USER": ("scaler", "vmscale scales by itself; it triggers no Generic Webhook Trigger job"),
    "JENKINS_WEBHOOK_PASSWORD": ("scaler", "vmscale scales by itself; it triggers no Generic Webhook Trigger job"),
    "JENKINS_DEFAULT_WEBHOOK_TOKEN": ("scaler", "vmscale triggers no Generic Webhook Trigger job"),
    "JENKINS_DEFAULT_WEBHOOK_TOKEN_OUT": ("scaler", "vmscale triggers no Generic Webhook Trigger job"),
    "JENKINS_DEFAULT_WEBHOOK_TOKEN_IN": ("scaler", "vmscale triggers no Generic Webhook Trigger job"),
    "GIT_REPO_URL": ("scaler", "vmscale generates no Jenkins jobs"),
    "DEFAULT_COOLDOWN_PERIOD": ("scaler", "cooldowns are set per group; `vmscale import` takes each cooldownPeriod"),
    "SSH_KEY_DIR": ("monitoring", "the SSH key is SSH_KEY_FILE, or per group (ssh_credentials_ref)"),
    "NODE_EXPORTER_VERSION": ("monitoring", "set NODE_EXPORTER_ARTIFACT, or NODE_EXPORTER_URL and _SHA256"),
    "PROMTAIL_VERSION": ("monitoring", "set PROMTAIL_ARTIFACT, or PROMTAIL_URL and PROMTAIL_SHA256"),
    "JMX_EXPORTER_VERSION": ("monitoring", "set JMX_EXPORTER_ARTIFACT, or JMX_EXPORTER_URL and _SHA256"),
    "NODE_EXPORTER_INSTALL_TIMEOUT": ("monitoring", "use SSH_COMMAND_TIMEOUT_S (seconds, not milliseconds)"),
    "NODE_EXPORTER_STATUS_CHECK_TIMEOUT": ("monitoring", "use SSH_CONNECT_TIMEOUT_S (seconds, not milliseconds)"),
}
"""Original names vmscale does not read: the service that would have, and where the setting went."""


def original(field_name: str, *old_names: str) -> AliasChoices:
    """The ``validation_alias`` of a field the original knew as ``old_names`` (first wins)."""
    return AliasChoices(field_name, *old_names)


def alias_names(cls: type[BaseSettings], field_name: str) -> tuple[str, tuple[str, ...]]:
    """(vmscale's environment name, the original's names) of one field."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    canonical = f"{prefix}{field_name}".upper()
    alias = cls.model_fields[field_name].validation_alias
    if not isinstance(alias, AliasChoices):
        return canonical, ()
    olds = tuple(str(choice).upper() for choice in alias.choices[1:] if isinstance(choice, str))
    return canonical, olds


def _lookup(environ: Mapping[str, str], name: str) -> str | None:
    """The value of ``name`` in ``environ``, case-insensitively (as pydantic-settings reads it)."""
    if name in environ:
        return environ[name]
    upper = name.upper()
    for key, value in environ.items():
        if key.upper() == upper:
            return value
    return None


def first_given(cls: type[BaseSettings], field_name: str, environ: Mapping[str, str]) -> str | None:
    """The value of one field as the environment gives it (its own name first), if at all."""
    canonical, olds = alias_names(cls, field_name)
    for name in (canonical, *olds):
        value = _lookup(environ, name)
        if value is not None and value.strip():
            return value.strip()
    return None


def check_original_names(cls: type[BaseSettings], environ: Mapping[str, str]) -> tuple[str, ...]:
    """One deprecation note per original name in use; ``ValueError`` when two names disagree.

    Values are compared as given (after trimming); an empty value counts as not given.
    """
    notes: list[str] = []
    for field_name in cls.model_fields:
        canonical, olds = alias_names(cls, field_name)
        if not olds:
            continue
        given: list[tuple[str, str]] = []
        for name in (canonical, *olds):
            value = _lookup(environ, name)
            if value is not None and value.strip():
                given.append((name, value.strip()))
        if len({value for _, value in given}) > 1:
            names = " and ".join(name for name, _ in given)
            raise ValueError(f"{names} are both set, to different values; set only {canonical}")
        notes += [f"{name} is deprecated; use {canonical}" for name, _ in given if name != canonical]
    return tuple(notes)


def unused_original_names(service: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """One note per original name in ``environ`` that ``service`` would have read, and does not."""
    return tuple(
        f"{name} is not used by vmscale: {why}"
        for name, (owner, why) in UNUSED_ORIGINAL_NAMES.items()
        if owner == service and (_lookup(environ, name) or "").strip()
    )


@dataclass(frozen=True)
class SettingSource:
    """One setting as a service will use it: the value shown (secrets masked) and its origin."""

    name: str
    value: Any
    source: str
    """``file <VAR>``, ``env <VAR>``, ``alias <VAR> (deprecated: use <NEW>)`` or ``default``."""


def describe_sources(settings: Any, environ: Mapping[str, str]) -> list[SettingSource]:
    """Every field of ``settings`` (a ``ServiceSettings``) with its masked value and origin.

    ``settings.derived_sources()`` names fields filled from another setting (``GOVC_URL``'s
    host, port and user; the webhook URL from the gateway's address).
    """
    cls = type(settings)
    shown = settings.public_dict()
    derived: Mapping[str, str] = settings.derived_sources()
    out: list[SettingSource] = []
    for field_name in cls.model_fields:
        canonical, olds = alias_names(cls, field_name)
        source = "default"
        if (_lookup(environ, f"{canonical}_FILE") or "").strip():
            source = f"file {canonical}_FILE"
        elif _lookup(environ, canonical) is not None:
            source = f"env {canonical}"
        else:
            for old in olds:
                if (_lookup(environ, old) or "").strip():
                    source = f"alias {old} (deprecated: use {canonical})"
                    break
            else:
                if field_name in derived:
                    source = derived[field_name]
        out.append(SettingSource(field_name, shown[field_name], source))
    return out
