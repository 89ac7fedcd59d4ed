"""Hook targets and parameters are secrets: how they are shown where they must not be read.

A lifecycle hook's URL often carries a token (``https://ci/hook?token=…``, ``https://u:p@host/``)
and its parameters often carry credentials. Wherever a hook is shown to someone who may not
change it (viewers, operators), exported, or put into an error or a log line, it is masked:

* an HTTP target keeps its scheme and host (``https://ci.example:8443/***``), so one can still
  tell which system it calls; a Jenkins target (a job name, no secret) is kept;
* every parameter value becomes ``***`` (the names stay).

``restore_hooks`` undoes the masking on the way back in: a spec that comes back with masked values
(a re-imported export, a form that showed them masked) keeps the stored values for them, so a
round trip never overwrites a real token with stars.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["HOOK_FIELDS", "MASK", "mask_hook", "mask_hooks", "mask_url", "restore_hooks"]

MASK = "***"
HOOK_FIELDS = ("post_provision_hook", "pre_termination_hook")
"""The fields of a group's settings that hold a hook."""


def mask_url(url: str) -> str:
    """``scheme://host[:port]/***``: no user info, path or query (where tokens hide)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}/{MASK}"


def mask_hook(hook: dict[str, Any]) -> dict[str, Any]:
    """A hook's settings with its URL target and its parameter values masked."""
    masked = dict(hook)
    target = hook.get("target")
    if isinstance(target, str) and hook.get("kind", "http") != "jenkins":
        masked["target"] = mask_url(target)
    parameters = hook.get("parameters")
    if isinstance(parameters, dict):
        masked["parameters"] = dict.fromkeys(parameters, MASK)
    return masked


def mask_hooks(spec: dict[str, Any]) -> dict[str, Any]:
    """A group's settings with every hook masked (a copy; ``spec`` is not changed)."""
    masked = dict(spec)
    for name in HOOK_FIELDS:
        if isinstance(spec.get(name), dict):
            masked[name] = mask_hook(spec[name])
    return masked


def restore_hooks(incoming: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """``incoming`` with masked hook values replaced by the ``stored`` ones they stand for."""
    if not stored:
        return incoming
    restored = dict(incoming)
    for name in HOOK_FIELDS:
        new, old = incoming.get(name), stored.get(name)
        if not isinstance(new, dict) or not isinstance(old, dict):
            continue
        hook = dict(new)
        old_target = old.get("target")
        if isinstance(old_target, str) and hook.get("target") == mask_hook(old)["target"]:
            hook["target"] = old_target
        new_params, old_params = hook.get("parameters"), old.get("parameters")
        if isinstance(new_params, dict) and isinstance(old_params, dict):
            hook["parameters"] = {
                key: old_params[key] if value == MASK and key in old_params else value
                for key, value in new_params.items()
            }
        restored[name] = hook
    return restored
