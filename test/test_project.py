"""Project rules that code review would otherwise have to remember."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from statuschecker.config import Settings

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"connexion", "starlette", "uvicorn"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_imports_no_web_framework() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FRAMEWORKS)
        for path in (ROOT / "statuschecker").rglob("*.py")
        if imported_modules(path) & FRAMEWORKS and path.name != "cli.py"
    }
    assert offenders == {}


def test_only_the_cli_starts_the_web_server() -> None:
    # cli.py is the composition root: it may import uvicorn and the web app, lazily.
    source = (ROOT / "statuschecker" / "cli.py").read_text()
    top_level = source.split("\ndef ", 1)[0]
    assert "uvicorn" not in top_level and "web.app" not in top_level


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        row = re.search(rf"^\| `STATUSCHECKER_{name.upper()}` \| ([^|]+) \|", readme, re.M)
        assert row, f"README does not list STATUSCHECKER_{name.upper()}"
        shown = row.group(1).strip().strip("`")
        default = field.default
        if default is None or field.default_factory is list:
            assert shown == "unset", name
        elif isinstance(default, bool):
            assert shown == str(default).lower()
        elif isinstance(default, float):
            assert float(shown) == default, name
        else:
            assert shown == str(default), name


def test_every_make_target_has_a_help_line() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY: (.+)$", makefile, re.M)
    assert phony
    for target in phony.group(1).split():
        assert re.search(rf"^{target}:.*## \S", makefile, re.M), target


def _string_schemas_without_bound(node: object, path: str = "") -> list[str]:
    if isinstance(node, list):
        return [
            p for i, v in enumerate(node) for p in _string_schemas_without_bound(v, f"{path}/{i}")
        ]
    if not isinstance(node, dict):
        return []
    found = []
    if node.get("type") == "string" and "maxLength" not in node and "enum" not in node:
        found.append(path)
    for key, value in node.items():
        found += _string_schemas_without_bound(value, f"{path}/{key}")
    return found


def test_every_string_in_the_spec_has_a_maximum_length() -> None:
    spec = yaml.safe_load((ROOT / "openapispec.yaml").read_text())
    assert _string_schemas_without_bound(spec) == []
