"""The contract as the client generator reads it: openapispec.yaml without the rules that tie
fields of one object together (a `oneOf` or `not` that only names required fields, such as
"a service has a url or a heartbeat"), which openapi-python-client would turn into an untyped
body. The server still enforces them; the generated models keep every field.

    python scripts/client_spec.py openapispec.yaml > client/openapi.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

COMBINERS = ("oneOf", "anyOf", "not")


def field_rules_only(value: Any) -> bool:
    """Whether a combiner's schemas say only which fields are required (or must be absent)."""
    if isinstance(value, list):
        return all(field_rules_only(item) for item in value)
    if not isinstance(value, dict):
        return False
    return all(
        key == "required" or (key in COMBINERS and field_rules_only(item))
        for key, item in value.items()
    )


def without_field_rules(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with the field rules of its object schemas removed."""
    for schema in spec["components"]["schemas"].values():
        if "properties" not in schema:
            continue
        for combiner in COMBINERS:
            if combiner in schema and field_rules_only(schema[combiner]):
                del schema[combiner]
    return spec


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        yaml.safe_dump(without_field_rules(yaml.safe_load(source)), sys.stdout, sort_keys=False)
