"""The JSON Schema of a configuration file, made from the contract (see
statuschecker.config.schema); the server serves the copy in web/ at /config.schema.json.

    python scripts/config_schema.py openapispec.yaml > web/config.schema.json
"""

from __future__ import annotations

import json
import sys

import yaml

from statuschecker.config.schema import document_schema


def main(path: str) -> None:
    """Print the schema of the contract at `path`."""
    with open(path, encoding="utf-8") as spec:
        print(json.dumps(document_schema(yaml.safe_load(spec)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
