"""Names: natural ordering, hidden system VMs, and what vCenter and DNS accept."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from shared.errors import InvalidInput
from shared.vocabulary import FailureReason

__all__ = ["glob_match", "is_hidden", "natural_key", "validate_hostname", "validate_vm_name"]

_DIGITS = re.compile(r"(\d+)")
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_VM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``web-2`` before ``web-10`` (digit runs compare as numbers)."""
    parts = _DIGITS.split(name)
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in parts if part)


def is_hidden(name: str) -> bool:
    """True for vSphere's own cluster-service VMs (``vCLS-*``), never shown or touched."""
    return name.startswith("vCLS-") or name.startswith("vCLS (")


def glob_match(name: str, pattern: str) -> bool:
    """Shell-style, case-sensitive match (``web-*``)."""
    return fnmatchcase(name, pattern)


def validate_vm_name(name: str) -> str:
    """A trimmed VM name vCenter and our tools accept, else ``InvalidInput``."""
    if name != name.strip() or not _VM_NAME.match(name) or "%" in name:
        raise InvalidInput(
            "VM names are 1-80 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
            vm_name=name,
            reason=FailureReason.INVALID_INPUT.value,
        )
    return name


def validate_hostname(hostname: str) -> str:
    """A DNS label (RFC 1123, at most 63 characters), else ``InvalidInput``."""
    if not _DNS_LABEL.match(hostname):
        raise InvalidInput(
            "a guest host name must be a DNS label: letters, digits and inner '-', at most 63",
            hostname=hostname,
            reason=FailureReason.INVALID_INPUT.value,
        )
    return hostname
