"""`statuschecker apply` and `statuschecker export`: configuration files sent to a server's
`POST /v1/config:apply` and its plan shown as a readable diff; the account's configuration
written as YAML. Exit statuses for CI: 0 applied or nothing to do, 2 with
`--detailed-exitcode` when the plan has changes, 1 for an error."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import httpx
import yaml

from statuschecker.config.files import ConfigFileError, Loaded, files_of, load
from statuschecker.config.importing import dumped

DEFAULT_URL = "http://127.0.0.1:9999"
SCHEMA_HINT = "# yaml-language-server: $schema={url}/config.schema.json\n"
TIMEOUT_SECONDS = 300.0  # ten thousand services are written in seconds; leave room
SIGNS = {"create": "+", "change": "~", "delete": "-"}


def add_server_arguments(
    parser: argparse.ArgumentParser, token: str = "an access or API token that may write"
) -> None:
    """--url and --token (described as `token`), from the environment by default."""
    parser.add_argument(
        "--url",
        default=os.environ.get("STATUSCHECKER_URL", DEFAULT_URL),
        help=f"the server's address (default: $STATUSCHECKER_URL, else {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("STATUSCHECKER_TOKEN"),
        help=f"{token} (default: $STATUSCHECKER_TOKEN)",
    )


def add_apply_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `statuschecker apply`."""
    parser.add_argument(
        "-f", "--file", action="append", required=True, metavar="FILE", dest="files",
        help="a configuration file (YAML or JSON); several make one configuration",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.add_argument(
        "--prune",
        action="store_true",
        help="delete what configuration made that the files no longer declare",
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the plan has changes (0 when there are none)",
    )
    parser.add_argument(
        "--output", choices=["text", "json"], default="text", help="how to print the plan"
    )
    parser.add_argument(
        "--yes", "-y", action="store_true", help="apply without asking (asked only on a terminal)"
    )
    add_server_arguments(parser)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `statuschecker export`."""
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    add_server_arguments(parser)


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `statuschecker import`."""
    parser.add_argument("tool", choices=["gatus", "kuma"], help="the tool the files are from")
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="gatus: its YAML configuration files (or their folder); kuma: its SQLite database "
        "(kuma.db) or a JSON backup of Uptime Kuma 1.x",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")


def cmd_import(args: argparse.Namespace) -> int:
    """Convert another tool's configuration: our YAML on stdout (or --output), what did not
    map on stderr and at the head of the YAML; 1 when the files cannot be read."""
    from statuschecker.config import gatus, kuma

    try:
        if args.tool == "gatus":
            imported = gatus.convert(gatus_config(args.files))
        else:
            imported = kuma.convert(kuma.read(args.files[0]))
    except (ConfigFileError, kuma.KumaError) as exc:
        print(f"statuschecker: {exc}", file=sys.stderr)
        return 1
    text = imported.yaml(" ".join(args.files))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as written:
            written.write(text)
    else:
        sys.stdout.write(text)
    for line in imported.report:
        print(f"not carried over: {line}", file=sys.stderr)
    return 0


def gatus_config(paths: list[str]) -> dict[str, Any]:
    """Gatus's configuration from its files, merged as Gatus merges them (lists one after the
    other, mappings key by key); `${VAR}` left as it is, for statuschecker's files to read from
    the environment in turn."""
    merged: dict[str, Any] = {}
    for path in files_of(paths):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigFileError(f"{path}: cannot read it as YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigFileError(f"{path}: a Gatus configuration is a mapping")
        for key, value in data.items():
            if isinstance(value, list):
                merged[key] = [*merged.get(key, []), *value]
            elif isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


class _Refused(Exception):
    """The server refused the request; the message says why, in a person's words."""


def cmd_apply(args: argparse.Namespace) -> int:
    """Apply the files; see the module's docstring for the exit statuses."""
    out, err = sys.stdout, sys.stderr
    try:
        loaded = load(args.files)
        ask = not args.dry_run and not args.yes and sys.stdin.isatty() and sys.stdout.isatty()
        with _client(args) as client:
            plan = _apply(client, loaded, dry_run=args.dry_run or ask, prune=args.prune)
            if ask and plan["changes"]:
                print(render(plan, loaded), file=out)
                if input("Apply these changes? Only 'yes' goes on: ").strip() != "yes":
                    print("Nothing was changed.", file=out)
                    return 1
                plan = _apply(client, loaded, dry_run=False, prune=args.prune)
    except (ConfigFileError, _Refused) as exc:
        print(f"statuschecker: {exc}", file=err)
        return 1
    print(json.dumps(plan, indent=2) if args.output == "json" else render(plan, loaded), file=out)
    return 2 if args.detailed_exitcode and plan["changes"] else 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the account's configuration as YAML; 1 for an error."""
    out, err = sys.stdout, sys.stderr
    try:
        with _client(args) as client:
            document = _answer(client.get("/v1/config"))
    except _Refused as exc:
        print(f"statuschecker: {exc}", file=err)
        return 1
    text = SCHEMA_HINT.format(url=args.url.rstrip("/")) + dumped(document)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as written:
            written.write(text)
    else:
        out.write(text)
    return 0


def _client(args: argparse.Namespace) -> httpx.Client:
    if not args.token:
        raise _Refused(
            "no token: pass --token or set STATUSCHECKER_TOKEN (an API token that may write)"
        )
    return httpx.Client(
        base_url=args.url.rstrip("/"),
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=TIMEOUT_SECONDS,
    )


def _apply(client: httpx.Client, loaded: Loaded, *, dry_run: bool, prune: bool) -> dict[str, Any]:
    params = {"dry_run": str(dry_run).lower(), "prune": str(prune).lower()}
    try:
        return _answer(client.post("/v1/config:apply", json=loaded.document, params=params), loaded)
    except httpx.TransportError as exc:
        raise _Refused(f"cannot reach {client.base_url}: {exc}") from None


def _answer(response: httpx.Response, loaded: Loaded | None = None) -> dict[str, Any]:
    """The JSON of a 2xx answer; _Refused with the problem's detail and, for each faulty
    item, where it was written."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    if not isinstance(body, dict):
        raise _Refused(f"the server answered {response.status_code} {response.reason_phrase}")
    lines = [str(body.get("detail") or body.get("title"))]
    for error in body.get("errors", []):
        pointer = error.get("pointer", "")
        where = loaded.place(pointer) if loaded is not None else ""
        lines.append(f"  {where or pointer}: {error.get('detail')}")
    raise _Refused("\n".join(lines))


def render(plan: Mapping[str, Any], loaded: Loaded | None = None) -> str:
    """The plan as people read it: a line per item created (+), changed (~) or deleted (-),
    each changed field below its item, then the counts and whether it was applied."""
    lines = []
    for change in plan["changes"]:
        where = loaded.place(change["pointer"]) if loaded and change["pointer"] else ""
        notes = [n for n in (where, "adopted" if change["adopted"] else "") if n]
        lines.append(
            f"{SIGNS[change['action']]} {change['kind']} {change['name']}"
            + (f"  ({', '.join(notes)})" if notes else "")
        )
        for changed in change["fields"]:
            lines += [
                f"    {path}: {_shown(before)} -> {_shown(after)}"
                for path, before, after in _differences(
                    changed["field"], changed["before"], changed["after"]
                )
            ]
    counts = {action: 0 for action in SIGNS}
    for change in plan["changes"]:
        counts[change["action"]] += 1
    unchanged = plan["unchanged"]["services"] + plan["unchanged"]["maintenances"]
    lines.append(
        f"Plan: {counts['create']} to create, {counts['change']} to change, "
        f"{counts['delete']} to delete, {unchanged} unchanged."
    )
    if not plan["changes"]:
        lines.append("Nothing to do.")
    else:
        lines.append("Applied." if plan["applied"] else "Dry run: nothing was changed.")
    return "\n".join(lines)


def _differences(path: str, before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """The leaves that differ between two values, by dotted path (a mapping is gone into)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            found
            for key in [*after, *(k for k in before if k not in after)]
            for found in _differences(f"{path}.{key}", before.get(key), after.get(key))
        ]
    return [] if before == after else [(path, before, after)]


def _shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)
