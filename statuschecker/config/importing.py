"""What importers from other tools share: the report of what did not map, durations in their
words, and names made unique. An importer never drops a field silently: what it cannot carry
over is a line of its report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Imported:
    """A configuration document made from another tool's, and what of it did not map."""

    document: dict[str, Any] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)

    def unmapped(self, where: str, what: str) -> None:
        """Say that `what`, at `where` in the source, was not carried over."""
        self.report.append(f"{where}: {what}")

    def yaml(self, source: str) -> str:
        """The document as YAML, its report first as comments."""
        head = [f"# Imported from {source} by statuschecker."]
        if self.report:
            head.append(f"# Not carried over ({len(self.report)}):")
            head += [f"#   {line}" for line in self.report]
        else:
            head.append("# Everything was carried over.")
        body = dumped(self.document)
        return "\n".join(head) + "\n" + body


def dumped(document: Any) -> str:
    """A document as YAML, keys in their order (with libyaml: ten thousand services in a
    fraction of a second)."""
    return yaml.dump(
        document, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100
    )


def seconds(text: Any) -> float | None:
    """A duration as Go writes it (`5m`, `1h30m`, `250ms`) or a number of seconds; None when
    it is neither."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    parts = _DURATION_PART.findall(str(text).strip())
    if not parts or "".join(n + u for n, u in parts) != str(text).strip():
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def unique(name: str, taken: set[str], qualifier: str = "") -> str:
    """`name`, or, when it is taken, `name (qualifier)` and then `name (qualifier) 2`, ...; the
    name returned is taken from then on. Names are at most 100 characters."""
    candidate = name[:100] or "unnamed"
    if candidate in taken and qualifier:
        candidate = f"{name} ({qualifier})"[:100]
    base, n = candidate, 2
    while candidate in taken:
        candidate = f"{base[:95]} {n}"
        n += 1
    taken.add(candidate)
    return candidate
