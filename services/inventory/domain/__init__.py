"""Pure inventory logic: names, tags, clone planning and validation, query filters."""

from services.inventory.domain.failures import reason_for
from services.inventory.domain.filters import matches
from services.inventory.domain.model import ChangeBatch, ClonePlan, GuestIdentity, InventoryObjects, Snapshot
from services.inventory.domain.names import (
    glob_match,
    is_hidden,
    natural_key,
    validate_hostname,
    validate_vm_name,
)
from services.inventory.domain.plans import guest_identity, plan_clone, plan_template, resolve_network
from services.inventory.domain.tag import EXTRA_CONFIG_KEY, Tag, annotate, parse_tag

__all__ = [
    "EXTRA_CONFIG_KEY",
    "ChangeBatch",
    "ClonePlan",
    "GuestIdentity",
    "InventoryObjects",
    "Snapshot",
    "Tag",
    "annotate",
    "glob_match",
    "guest_identity",
    "is_hidden",
    "matches",
    "natural_key",
    "parse_tag",
    "plan_clone",
    "plan_template",
    "reason_for",
    "resolve_network",
    "validate_hostname",
    "validate_vm_name",
]
