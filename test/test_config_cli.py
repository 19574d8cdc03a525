"""`statuschecker apply` and `statuschecker export` against a served statuschecker: a file of
fifty services of every kind is applied, re-applied (no change), changed (exactly those
changes), exported and applied back (no change); a faulty file applies nothing and names its
line. Exit statuses are those CI keys on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from accounts import Account

from statuschecker.cli import main
from statuschecker.runtime import Runtime
from web.app import create_app

KINDS = [
    "url: http://127.0.0.1:8080/health/{n}",
    "url: https://127.0.0.1:8443/{n}\n    expected_status: [200, 301]",
    "url: tcp://127.0.0.1:{port}",
    "url: dns://host{n}.example.com\n    resolver: 127.0.0.1:5353\n    record_type: TXT",
    "url: tls://127.0.0.1:{port}\n    min_cert_days: 10",
    "url: icmp://127.0.0.{n}",
    "heartbeat: {{interval_seconds: 3600, grace_seconds: 600}}",
    "heartbeat: {{cron: '{n} 3 * * *', timezone: Europe/Paris}}",
]


def fifty_services() -> str:
    """A configuration: defaults, a receiver with its secret from the environment, fifty
    services of every kind (the later ones depending on the first), a maintenance window."""
    lines = [
        "defaults:",
        "  interval_seconds: 120",
        "  alert_policy: {window_seconds: 600, min_checks: 3}",
        "receivers:",
        "  ops:",
        "    webhooks: [{url: 'http://127.0.0.1:9/hooks/ops', secret: '${HOOK_SECRET}'}]",
        "services:",
    ]
    for n in range(1, 51):
        kind = KINDS[n % len(KINDS)].format(n=n, port=10000 + n)
        lines += [f"  - name: svc-{n:02d}", f"    {kind}"]
        if n > 1 and "heartbeat" not in kind:
            lines.append(
                "    depends_on: [svc-01]" if n % 5 else "    depends_on: [svc-01, svc-02]"
            )
        if n % 7 == 0:
            lines.append("    receivers: [ops]")
        if n % 9 == 0:
            lines.append("    tags: [edge, public]")
    lines += [
        "maintenances:",
        "  - title: Patch Tuesday",
        "    services: [svc-01, svc-02]",
        "    rrule: FREQ=MONTHLY;BYDAY=2TU;BYHOUR=22",
        "    duration_seconds: 7200",
        "    timezone: Europe/Berlin",
        "    starts_at: 2026-01-01T00:00:00Z",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def server(
    make_runtime: Callable[..., Runtime], serve: Callable[[Any], str], account: Account
) -> str:
    return serve(create_app(make_runtime(), validate_responses=True))


def run(
    capsys: pytest.CaptureFixture[str], server: str, account: Account, *args: str
) -> tuple[int, str, str]:
    status = main([*args, "--url", server, "--token", account.token])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_file_is_applied_changed_pruned_exported_and_applied_back(
    server: str,
    account: Account,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "shh-s3cret")
    config = tmp_path / "services.yaml"
    config.write_text(fifty_services())

    status, out, _ = run(capsys, server, account, "apply", "-f", str(config), "--detailed-exitcode")
    assert status == 2, out
    assert out.count("\n+ service ") + out.startswith("+ service ") == 50
    assert "+ maintenance Patch Tuesday" in out
    assert "Plan: 51 to create, 0 to change, 0 to delete, 0 unchanged.\nApplied." in out
    assert "shh-s3cret" not in out

    status, out, _ = run(capsys, server, account, "apply", "-f", str(config), "--detailed-exitcode")
    assert (status, out.splitlines()[-2:]) == (
        0,
        ["Plan: 0 to create, 0 to change, 0 to delete, 51 unchanged.", "Nothing to do."],
    )

    text = config.read_text()
    text = text.replace("url: tcp://127.0.0.1:10002", "url: tcp://127.0.0.1:20002")
    text = text.replace("heartbeat: {interval_seconds: 3600, grace_seconds: 600}",
                        "heartbeat: {interval_seconds: 1800, grace_seconds: 600}", 1)  # fmt: skip
    text = text.replace("  - name: svc-09\n", "  - name: svc-09\n    paused: true\n")
    start, end = text.index("  - name: svc-50\n"), text.index("maintenances:")
    text = text[:start] + text[end:]
    config.write_text(text)
    status, out, _ = run(capsys, server, account, "apply", "-f", str(config), "--prune")
    assert status == 0, out
    changed = [line for line in out.splitlines() if line[:2] in ("+ ", "~ ", "- ")]
    assert changed == [
        f"~ service svc-02  ({config}:{line_of(text, 'svc-02')})",
        f"~ service svc-06  ({config}:{line_of(text, 'svc-06')})",
        f"~ service svc-09  ({config}:{line_of(text, 'svc-09')})",
        "- service svc-50",
    ]
    assert '    url: "tcp://127.0.0.1:10002" -> "tcp://127.0.0.1:20002"' in out
    assert "    heartbeat.interval_seconds: 3600 -> 1800" in out
    assert "    paused: false -> true" in out
    assert "Plan: 0 to create, 3 to change, 1 to delete, 47 unchanged." in out

    exported = tmp_path / "exported.yaml"
    assert run(capsys, server, account, "export", "-o", str(exported))[0] == 0
    shown = exported.read_text()
    assert shown.startswith(f"# yaml-language-server: $schema={server}/config.schema.json\n")
    assert "shh-s3cret" not in shown and "secret: '********'" in shown
    assert len(yaml.safe_load(shown)["services"]) == 49
    status, out, _ = run(
        capsys, server, account, "apply", "-f", str(exported), "--detailed-exitcode", "--prune"
    )
    assert (status, out.splitlines()[-1]) == (0, "Nothing to do."), out


def line_of(text: str, name: str) -> int:
    return text.splitlines().index(f"  - name: {name}") + 1


def test_a_faulty_file_applies_nothing_and_names_the_line(
    server: str, account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(
        "services:\n"
        "  - name: fine\n"
        "    url: tcp://127.0.0.1:1\n"
        "  - name: broken\n"
        "    url: tcp://127.0.0.1:2\n"
        "    interval_seconds: 0\n"
        "  - name: orphan\n"
        "    url: tcp://127.0.0.1:3\n"
        "    depends_on: [nobody]\n"
    )
    status, out, err = run(capsys, server, account, "apply", "-f", str(config))
    assert (status, out) == (1, "")
    assert f"{config}:6: 0 is less than the minimum of 1" in err
    status, out, err = run(capsys, server, account, "apply", "-f", str(config), "--dry-run")
    assert status == 1
    config.write_text(config.read_text().replace("interval_seconds: 0", "interval_seconds: 30"))
    status, _, err = run(capsys, server, account, "apply", "-f", str(config))
    assert status == 1 and f"{config}:7: depends_on names 'nobody'" in err
    status, out, _ = run(capsys, server, account, "export")
    assert (status, yaml.safe_load(out)) == (0, {"services": []})  # nothing was applied


def test_files_make_one_configuration_and_their_faults_are_their_own(
    server: str, account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("services:\n  - {name: a, url: 'tcp://127.0.0.1:1'}\n")
    second.write_text(
        "receivers:\n  ops: {apprise_urls: ['json://127.0.0.1:9/']}\n"
        "services:\n  - {name: b, url: 'tcp://127.0.0.1:2', depends_on: [a], receivers: [ops]}\n"
        "  - {name: c, url: 'tcp://127.0.0.1:3', secret_key: '${NOT_SET_ANYWHERE}'}\n"
    )
    status, _, err = run(capsys, server, account, "apply", "-f", str(first), "-f", str(second))
    assert status == 1 and f"{second}:5: the environment has no NOT_SET_ANYWHERE" in err
    second.write_text(second.read_text().replace("secret_key: '${NOT_SET_ANYWHERE}'", "port: 1"))
    status, _, err = run(capsys, server, account, "apply", "-f", str(first), "-f", str(second))
    assert status == 1 and f"{second}:5: " in err  # the second file's second service
    second.write_text(second.read_text().replace(", port: 1", ""))
    status, out, _ = run(capsys, server, account, "apply", "-f", str(tmp_path), "--output", "json")
    assert status == 0
    assert '"action": "create"' in out and '"pointer": "/services/2"' in out


def test_the_console_script_without_a_token_says_how_to_get_one(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("services: []\n")
    done = subprocess.run(
        [sys.executable, "-m", "statuschecker.cli", "apply", "-f", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no token: pass --token or set STATUSCHECKER_TOKEN" in done.stderr
