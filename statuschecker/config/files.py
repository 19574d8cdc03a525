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


@dataclass
class Loaded:
    """A document read from files, and where each part of it was written (a JSON pointer into
    the document to `file:line`)."""

    document: dict[str, Any] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)

    def place(self, pointer: str) -> str:
        """Where the part of the document at `pointer` was written, or its nearest enclosing
        part that was ('' when none)."""
        while pointer:
            if pointer in self.places:
                return self.places[pointer]
            pointer = pointer.rpartition("/")[0]
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
        data, places = _read(Path(path))
        data = _expanded(data, "", environ, places)
        _merge(loaded, data, places, str(path))
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


def _read(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
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
    places: dict[str, str] = {}
    if node is not None:
        _place(node, "", str(path), places)
    return data, places


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


def _expanded(value: Any, pointer: str, environ: Mapping[str, str], places: dict[str, str]) -> Any:
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
                where = places.get(pointer, "")
                raise ConfigFileError(f"{where}: the environment has no {name} (${{{name}}})")
            return environ[name]

        return _VARIABLE.sub(put, value)
    return value


def _merge(loaded: Loaded, data: dict[str, Any], places: dict[str, str], path: str) -> None:
    unknown = sorted(set(data) - set(LISTS) - set(MAPS))
    if unknown:
        raise ConfigFileError(
            f"{places.get('/' + unknown[0], path)}: unknown key {unknown[0]!r}: a configuration "
            f"has {', '.join((*MAPS, *LISTS))}"
        )
    document = loaded.document
    for key in LISTS:
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ConfigFileError(f"{places.get('/' + key, path)}: {key} is a list")
        offset = len(document.setdefault(key, []))
        document[key].extend(items)
        for pointer, place in places.items():
            if pointer.startswith(f"/{key}/"):
                index, _, rest = pointer[len(key) + 2 :].partition("/")
                loaded.places[f"/{key}/{int(index) + offset}" + (f"/{rest}" if rest else "")] = (
                    place
                )
    for key in MAPS:
        given = data.get(key) or {}
        if not isinstance(given, dict):
            raise ConfigFileError(f"{places.get('/' + key, path)}: {key} is a mapping")
        merged = document.setdefault(key, {})
        for name, value in given.items():
            pointer = f"/{key}/{_escaped(str(name))}"
            if name in merged:
                first = loaded.places[pointer]
                raise ConfigFileError(
                    f"{places.get(pointer, path)}: {key} {name!r} is set in {first} too"
                )
            merged[name] = value
            loaded.places |= {
                p: place
                for p, place in places.items()
                if p == pointer or p.startswith(pointer + "/")
            }
    for key in MAPS:
        if not document.get(key):
            document.pop(key, None)
