"""The JSON Schema of configuration files: made from the contract, kept current in web/,
served for editors, and it tells a good file from a faulty one as the server does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from test_config_cli import fifty_services

from statuschecker.config.schema import document_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "web" / "config.schema.json"


def generated() -> dict[str, Any]:
    return document_schema(yaml.safe_load((ROOT / "openapispec.yaml").read_text()))


def test_the_published_schema_is_the_contracts() -> None:
    assert json.loads(SCHEMA.read_text()) == generated(), "run `make config-schema`"


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"services": [{"name": "a", "url": "gopher://x/"}]}, False),
        ({"services": [{"name": "a", "url": "tcp://127.0.0.1:1", "colour": "red"}]}, False),
        (
            {
                "services": [
                    {"name": "a", "heartbeat": {"interval_seconds": 60}, "url": "tcp://a:1"}
                ]
            },
            False,
        ),
        ({"services": [{"name": "a", "url": "tcp://127.0.0.1:1", "quorum": None}]}, True),
        ({"defaults": {"url": "tcp://127.0.0.1:1"}}, False),
        ({"receivers": {"ops": {"webhooks": [{"url": "https://hooks.example.com/x"}]}}}, True),
    ],
)
def test_editors_tell_a_good_file_from_a_faulty_one(change: dict[str, Any], valid: bool) -> None:
    document = yaml.safe_load(fifty_services()) | change
    document["maintenances"][0]["starts_at"] = "2026-01-01T00:00:00Z"  # YAML reads a time
    errors = list(jsonschema.Draft7Validator(generated()).iter_errors(document))
    assert (errors == []) is valid, errors[:1]


def test_the_server_serves_it(client: Any) -> None:
    answer = client.get("/config.schema.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/schema+json"
    assert answer.json()["title"] == "statuschecker configuration"
