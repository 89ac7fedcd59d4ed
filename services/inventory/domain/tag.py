"""Our tag on every VM vmscale creates: scaling group and activity id, so orphans can be found.

It is written twice at clone time -- as ExtraConfig ``vmscale.tag`` (applied atomically with the
clone, by vCenter and by vcsim alike) and as a line in the annotation (visible to operators and
cheap to read in bulk) -- in the form ``vmscale:group=<group>;activity=<activity id>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["EXTRA_CONFIG_KEY", "Tag", "annotate", "parse_tag"]

EXTRA_CONFIG_KEY = "vmscale.tag"
_LINE = re.compile(r"^vmscale:group=(?P<group>[^;\n]*);activity=(?P<activity>[^;\n]*)$", re.MULTILINE)


@dataclass(frozen=True)
class Tag:
    """Who created a VM: its scaling group and the activity that cloned it."""

    group: str
    activity_id: str

    def render(self) -> str:
        """The tag's text form."""
        return f"vmscale:group={self.group};activity={self.activity_id}"


def parse_tag(text: str | None) -> Tag | None:
    """The tag found in an annotation or ExtraConfig value, if any."""
    if not text:
        return None
    match = _LINE.search(text)
    if not match:
        return None
    return Tag(match.group("group"), match.group("activity"))


def annotate(annotation: str, tag: Tag) -> str:
    """``annotation`` with the tag line set (replacing an older tag line)."""
    kept = [line for line in annotation.splitlines() if not _LINE.match(line)]
    return "\n".join([*kept, tag.render()]).strip()
