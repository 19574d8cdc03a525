"""The JSON Schema of a configuration file, made from the contract's ConfigDocument: what
editors validate a file against (`# yaml-language-server: $schema=...`), served at
/config.schema.json. OpenAPI 3.0's dialect is turned into JSON Schema draft-07: `nullable`
becomes a null type, component references become definitions, OpenAPI's own keywords go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROOT = "ConfigDocument"
DRAFT = "http://json-schema.org/draft-07/schema#"
OPENAPI_ONLY = frozenset(
    {"nullable", "readOnly", "writeOnly", "example", "examples", "discriminator", "xml"}
)
_REF = "#/components/schemas/"


def document_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a configuration document, from the OpenAPI `spec`."""
    components = spec["components"]["schemas"]
    needed: dict[str, Any] = {}
    pending = [ROOT]
    while pending:
        name = pending.pop()
        if name not in needed:
            needed[name] = _converted(components[name], pending)
    root = needed.pop(ROOT)
    return {
        "$schema": DRAFT,
        "$id": "config.schema.json",
        "title": "statuschecker configuration",
        **root,
        "definitions": dict(sorted(needed.items())),
    }


def _converted(schema: Any, pending: list[str]) -> Any:
    """`schema` in draft-07 terms; the components it refers to are added to `pending`."""
    if isinstance(schema, list):
        return [_converted(item, pending) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            name = value.removeprefix(_REF)
            pending.append(name)
            converted[key] = f"#/definitions/{name}"
        elif key in ("properties", "definitions"):
            converted[key] = {k: _converted(v, pending) for k, v in value.items()}
        elif key not in OPENAPI_ONLY and not key.startswith("x-"):
            converted[key] = _converted(value, pending)
    if schema.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    return converted
