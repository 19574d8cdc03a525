"""Project rules that code review would otherwise have to remember."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path
from re import _parser as re_parser
from typing import Any

import jsonschema_rs
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statuschecker.system.config import Settings

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


def test_the_settings_doc_lists_every_setting_with_its_default() -> None:
    table = (ROOT / "docs" / "settings.md").read_text()
    for name, field in Settings.model_fields.items():
        row = re.search(rf"^\| `STATUSCHECKER_{name.upper()}` \| ([^|]+) \|", table, re.M)
        assert row, f"docs/settings.md does not list STATUSCHECKER_{name.upper()}"
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


def test_the_readme_names_every_make_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY: (.+)$", makefile, re.M)
    assert phony
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"`make ([a-z-]+)`", readme))
    assert set(phony.group(1).split()) - listed == set()


def test_the_readme_is_a_front_page_that_links_every_doc() -> None:
    """Reference material lives in docs/, one file per topic; the README stays short."""
    readme = ROOT / "README.md"
    assert readme.stat().st_size < 20_000
    for doc in sorted((ROOT / "docs").glob("*.md")):
        if doc.name != "README.md":
            assert f"](docs/{doc.name}" in readme.read_text(), doc.name


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _outside_code(text: str) -> str:
    """The text without fenced code blocks and inline code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _heading_slugs(path: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to
    '-', a repeated slug numbered (`-1`, `-2`, ...)."""
    slugs: set[str] = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        numbered, n = slug, 0
        while numbered in slugs:
            n += 1
            numbered = f"{slug}-{n}"
        slugs.add(numbered)
    return slugs


def test_github_slugs_are_made_like_github_makes_them() -> None:
    path = ROOT / "docs" / "deployment.md"
    assert "roles-api-and-pollers-apart" in _heading_slugs(path)
    assert "running-against-an-external-postgresql" in _heading_slugs(path)
    assert "restore-into-an-empty-database-then-bring-the-schema-to-this-version" not in (
        _heading_slugs(path)
    )  # a comment in a code block is no heading


def test_every_relative_link_in_the_docs_leads_somewhere() -> None:
    """README.md and docs/*.md: every relative link names a file or folder that exists and,
    into a markdown file, an anchor one of its headings makes."""
    broken = []
    links = 0
    for source in _markdown_files():
        for target in re.findall(
            r"\]\(([^)\s]+)(?: \"[^\"]*\")?\)", _outside_code(source.read_text())
        ):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            links += 1
            path, _, anchor = target.partition("#")
            where = (source.parent / path).resolve() if path else source
            name = f"{source.relative_to(ROOT)}: {target}"
            if not where.exists():
                broken.append(f"{name} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in _heading_slugs(where):
                broken.append(f"{name} (no such heading)")
    assert links > 20
    assert broken == []


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


UNSTORABLE = [0x0000]
"""The code point no stored text may hold: the server refuses U+0000, so every string a request
may carry excludes it in the contract, where fuzzers see it. (Lone surrogates, refused too, are
not valid Unicode text at all, and cannot be named in a pattern: Rust-based validators such as
schemathesis' reject a pattern naming them as not a regex.)"""

_CATEGORIES = {
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


def _admits(op: object, arg: Any, cp: int) -> bool:
    """Whether one character matcher of a parsed pattern matches code point `cp`."""
    name = str(op)
    if name == "LITERAL":
        return bool(arg == cp)
    if name == "NOT_LITERAL":
        return bool(arg != cp)
    if name == "ANY":
        return cp != 0x0A
    if name == "RANGE":
        return bool(arg[0] <= cp <= arg[1])
    if name == "CATEGORY":
        return re.fullmatch(_CATEGORIES[str(arg)], chr(cp)) is not None
    if name == "IN":
        negate = bool(arg) and str(arg[0][0]) == "NEGATE"
        items = arg[1:] if negate else arg
        return negate != any(_admits(o, a, cp) for o, a in items)
    raise AssertionError(f"no rule for {name}")


def _pattern_admits(items: Any, cp: int) -> bool:
    """Whether any character a match of the parsed pattern `items` consumes may be `cp`."""
    for op, arg in items:
        name = str(op)
        if name == "AT":
            continue
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            if _pattern_admits(arg[2], cp):
                return True
        elif name == "SUBPATTERN":
            if _pattern_admits(arg[3], cp):
                return True
        elif name == "BRANCH":
            if any(_pattern_admits(branch, cp) for branch in arg[1]):
                return True
        elif _admits(op, arg, cp):
            return True
    return False


def forbids_unstorable(schema: dict) -> bool:
    """Whether no string the string schema admits holds an UNSTORABLE code point: an enum or a
    date-time, or a pattern anchored at both ends none of whose characters may be one."""
    if "enum" in schema or schema.get("format") == "date-time":
        return True
    pattern = schema.get("pattern")
    if pattern is None or not (pattern.startswith("^") and pattern.endswith("$")):
        return False
    parsed = list(re_parser.parse(pattern))
    return not any(_pattern_admits(parsed, cp) for cp in UNSTORABLE)


def _request_string_schemas(spec: dict) -> list[tuple[str, dict]]:
    """Every string schema a request may carry (parameters and bodies, through $refs)."""
    found: list[tuple[str, dict]] = []
    seen: set[str] = set()

    def resolve(ref: str) -> Any:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")
        elif isinstance(node, dict):
            if "$ref" in node:
                if node["$ref"] not in seen:
                    seen.add(node["$ref"])
                    walk(resolve(node["$ref"]), node["$ref"])
                return
            if node.get("type") == "string":
                found.append((where, node))
            for key, value in node.items():
                if key not in ("example", "examples", "default", "description"):
                    walk(value, f"{where}/{key}")

    for path, item in spec["paths"].items():
        for key, operation in item.items():
            if key == "parameters":
                walk(operation, f"{path}/parameters")
            elif isinstance(operation, dict):
                walk(operation.get("parameters", []), f"{path}/{key}/parameters")
                walk(operation.get("requestBody", {}), f"{path}/{key}/requestBody")
    return found


def test_no_string_a_request_carries_may_hold_a_nul() -> None:
    """PostgreSQL cannot store U+0000 and the server refuses it at the door with a 400: the
    contract says so, as a pattern fuzzers honour."""
    spec = yaml.safe_load((ROOT / "openapispec.yaml").read_text())
    schemas = _request_string_schemas(spec)
    assert len(schemas) > 20
    assert [where for where, schema in schemas if not forbids_unstorable(schema)] == []
    for _, schema in schemas:  # and every pattern is one a Rust (ECMA-like) validator takes
        if "pattern" in schema:
            jsonschema_rs.validator_for({"type": "string", "pattern": schema["pattern"]})


def test_the_unstorable_check_tells_patterns_apart() -> None:
    assert forbids_unstorable({"pattern": "^[^\\u0000]*$"})
    assert forbids_unstorable({"pattern": "^[A-Za-z0-9_-]{11}$"})
    assert not forbids_unstorable({"pattern": "\\S"})
    assert not forbids_unstorable({"pattern": "^[^\\s]+$"})
    assert not forbids_unstorable({"pattern": "^a.b$"})
    assert not forbids_unstorable({"minLength": 1})


def test_the_url_pattern_names_the_schemes_a_check_handles() -> None:
    from statuschecker.checks import SCHEMES

    pattern = _schemas()["Url"]["pattern"]
    examples = {"icmp": "icmp://127.0.0.1", "dns": "dns://example.test"}
    for scheme in SCHEMES:
        url = examples.get(scheme, f"{scheme}://127.0.0.1:9")
        assert re.fullmatch(pattern, url), url
        assert re.fullmatch(pattern, url.replace(scheme, scheme.upper(), 1)), url
    for other in ("gopher", "ftp", "A", "httpx", "wsx", "smtpx", "grpcx", "postgresx", "redisx"):
        assert not re.fullmatch(pattern, f"{other}://127.0.0.1:9"), other


@settings(max_examples=300, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_url_the_contract_allows_is_one_a_check_takes(data: st.DataObject) -> None:
    """Bug: the contract allowed URLs the server refused (`tcp://` without a port, a host that
    does not parse), which fuzzers report as valid input rejected."""
    from statuschecker.checks import validate_options

    url = data.draw(_matching(_schemas()["Url"]["pattern"]))
    validate_options(url, {})  # raises for a URL no check takes
    hook = data.draw(_matching(_schemas()["WebhookUrl"]["pattern"]))
    assert hook.split("://", 1)[0].lower() in ("http", "https")


@settings(max_examples=200, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_email_the_contract_allows_is_one_an_account_takes(data: st.DataObject) -> None:
    """Bug: `x@b` met the contract (format email) and was refused as not an e-mail address."""
    from statuschecker.accounts.users import normalized_email

    normalized_email(
        data.draw(_matching(_schemas()["Credentials"]["properties"]["email"]["pattern"]))
    )


def test_no_pattern_uses_a_class_whose_meaning_depends_on_the_regex_dialect() -> None:
    """Bug: `\\s` matches U+0085 in Python (the server's validator) but not in ECMA-262 (a
    fuzzer's), so a URL holding it met the contract for one and not the other. Patterns spell
    their classes out."""
    spec = yaml.safe_load((ROOT / "openapispec.yaml").read_text())
    patterns: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert patterns
    for pattern in patterns:
        assert not re.search(r"(?<!\\)\\[sSwWdDbB]", pattern), pattern


@functools.cache
def _schemas() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "openapispec.yaml").read_text())["components"]["schemas"]


@functools.cache
def _matching(pattern: str) -> st.SearchStrategy[str]:
    """Strings matching `pattern`: one strategy per pattern, since building one from a long
    pattern is slow, and Hypothesis's own cache of them is evicted once a run has made many
    (the fuzz tests'), when each draw built it anew (90 s instead of 3 s)."""
    return st.from_regex(pattern)


def test_a_check_result_is_declared_once_and_the_contract_shows_every_field() -> None:
    """The fields of a check result come from `model.CheckResult` alone: the ticks' columns,
    the recorder's insert and the history's mapping derive from it, and the contract's Tick
    shows each, besides when and where it was checked, whether in maintenance, and the
    certificate's days remaining."""
    import dataclasses

    from statuschecker.model import CheckResult
    from statuschecker.store.tables import service_ticks

    declared = {f.name for f in dataclasses.fields(CheckResult)}
    assert declared <= set(service_ticks.c.keys())
    shown = set(_schemas()["Tick"]["properties"])
    tick = {"checked_at", "cert_days_remaining", "in_maintenance", "location"}
    assert shown == declared | tick


def test_the_client_libraries_of_rarer_kinds_load_at_their_first_check() -> None:
    """grpcio, aiomysql and redis-py hold about 35 MB per process: the API and a poller that
    check none of those kinds never import them, and the first check of one does."""
    script = (
        "import asyncio, sys\n"
        "import web.app, statuschecker.polling.poller\n"
        "from statuschecker.checks import run_check\n"
        "from statuschecker.model import CheckSpec\n"
        "heavy = ('grpc', 'aiomysql', 'pymysql', 'redis')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "asyncio.run(run_check(CheckSpec('redis://127.0.0.1:9', 0.5)))\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert ran.stdout.splitlines() == ["[]", "['redis']"], ran.stderr
