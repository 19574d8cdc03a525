"""Configuration files: YAML (JSON is YAML too) read into one document, with where in which
file each part of it was written, so that a fault the server points at (`/services/3/url`) is
reported at its line. `${NAME}` in a string is the environment variable NAME (`$${` is a
literal `${`), so that secrets stay out of the files."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from yaml import CSafeLoader as Loader

LISTS = ("services", "maintenances")
MAPS = ("defaults", "receivers")
_VARIABLE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigFileError(Exception):
    """A file cannot be read as a configuration; the message says where and why."""


class _Places:
    """Where each part of one file was written (a JSON pointer into the file to `file:line`),
    worked out from its YAML nodes when first asked: only a fault needs it."""

    def __init__(self, path: str, node: yaml.Node | None) -> None:
        self._path = path
        self._node = node
        self._found: dict[str, str] | None = None

    def get(self, pointer: str) -> str:
        """Where the part at `pointer`, or its nearest enclosing part, was written."""
        if self._found is None:
            self._found = {}
            if self._node is not None:
                _place(self._node, "", self._path, self._found)
            self._node = None
        while pointer and pointer not in self._found:
            pointer = pointer.rpartition("/")[0]
        return self._found.get(pointer, self._path)


@dataclass
class Loaded:
    """A document read from files, and where each part of it was written."""

    document: dict[str, Any] = field(default_factory=dict)
    # Of each list, the files its items came from: (first index in the document, places).
    _lists: dict[str, list[tuple[int, _Places]]] = field(default_factory=dict)
    # Of each mapping's entries (/receivers/ops), the file that set it.
    _entries: dict[str, _Places] = field(default_factory=dict)

    def place(self, pointer: str) -> str:
        """Where the part of the document at `pointer` was written (`file:line`), or its
        nearest enclosing part that was ('' when none)."""
        parts = pointer.split("/")
        if len(parts) > 2 and parts[1] in self._lists and parts[2].isdigit():
            index = int(parts[2])
            for first, places in reversed(self._lists[parts[1]]):
                if index >= first:
                    return places.get("/".join([*parts[:2], str(index - first), *parts[3:]]))
        if len(parts) > 2 and "/".join(parts[:3]) in self._entries:
            return self._entries["/".join(parts[:3])].get(pointer)
        return ""


SUFFIXES = (".yaml", ".yml", ".json")
"""The files of a folder that are read, in name order."""


def load(paths: Sequence[str | Path], environ: Mapping[str, str] | None = None) -> Loaded:
    """The document the files (and the YAML and JSON files of the folders) declare together:
    their services and windows one after the other, their receivers and defaults merged (one
    set twice is a fault)."""
    environ = os.environ if environ is None else environ
    loaded = Loaded()
    for path in files_of(paths):
        data, node = _read(Path(path))
        places = _Places(str(path), node)
        data = _expanded(data, "", environ, places)
        _merge(loaded, data, places)
    return loaded


def files_of(paths: Sequence[str | Path]) -> list[Path]:
    """The files named, the YAML and JSON files of the folders named in name order."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        else:
            found.append(path)
    return found


def _read(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read it: {exc}") from None
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not YAML: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}:1: a configuration is a mapping (services: ...)")
    return data, node


def _place(node: yaml.Node, pointer: str, path: str, places: dict[str, str]) -> None:
    """Record the line of `node` and of everything in it under their JSON pointers."""
    places[pointer] = f"{path}:{node.start_mark.line + 1}"
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _place(value, f"{pointer}/{_escaped(str(key.value))}", path, places)
            places[f"{pointer}/{_escaped(str(key.value))}"] = f"{path}:{key.start_mark.line + 1}"
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _place(item, f"{pointer}/{index}", path, places)


def _escaped(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _expanded(value: Any, pointer: str, environ: Mapping[str, str], places: _Places) -> Any:
    """`value` with environment variables put in its strings and its times (which YAML reads
    as such) written back as RFC 3339."""
    if isinstance(value, dict):
        return {
            k: _expanded(v, f"{pointer}/{_escaped(str(k))}", environ, places)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expanded(v, f"{pointer}/{i}", environ, places) for i, v in enumerate(value)]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and "$" in value:

        def put(match: re.Match[str]) -> str:
            escaped, name = match.groups()
            if escaped:
                return "${" + name + "}"
            if name not in environ:
                where = places.get(pointer)
                raise ConfigFileError(f"{where}: the environment has no {name} (${{{name}}})")
            return environ[name]

        return _VARIABLE.sub(put, value)
    return value


def _merge(loaded: Loaded, data: dict[str, Any], places: _Places) -> None:
    unknown = sorted(set(data) - set(LISTS) - set(MAPS))
    if unknown:
        raise ConfigFileError(
            f"{places.get('/' + unknown[0])}: unknown key {unknown[0]!r}: a configuration "
            f"has {', '.join((*MAPS, *LISTS))}"
        )
    document = loaded.document
    for key in LISTS:
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ConfigFileError(f"{places.get('/' + key)}: {key} is a list")
        loaded._lists.setdefault(key, []).append((len(document.setdefault(key, [])), places))
        document[key].extend(items)
    for key in MAPS:
        given = data.get(key) or {}
        if not isinstance(given, dict):
            raise ConfigFileError(f"{places.get('/' + key)}: {key} is a mapping")
        merged = document.setdefault(key, {})
        for name, value in given.items():
            pointer = f"/{key}/{_escaped(str(name))}"
            if name in merged:
                first = loaded.place(pointer)
                raise ConfigFileError(
                    f"{places.get(pointer)}: {key} {name!r} is set in {first} too"
                )
            merged[name] = value
            loaded._entries[pointer] = places
    for key in MAPS:
        if not document.get(key):
            document.pop(key, None)
