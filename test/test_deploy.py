"""The deployment recipes in deploy/: compose, Prometheus, systemd and Dockerfile sanity.

No image is built or run here (no Docker daemon); these check what can be checked statically.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from test_packaging import BUILD_INPUTS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
POLLER_COMMAND = ["statuschecker", "poller", "--processes", "2", "--metrics-port", "9998"]


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def prometheus_config() -> dict:
    return yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))


def test_compose_has_the_five_services_with_their_commands() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "api", "poller-1", "poller-2", "prometheus"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["postgres"]
    assert services["api"]["command"] == ["statuschecker", "api"]
    for name in ("poller-1", "poller-2"):
        poller = services[name]
        assert poller["command"] == POLLER_COMMAND
        assert poller["environment"]["STATUSCHECKER_POLLER_METRICS_HOST"] == "0.0.0.0"
    for name in ("api", "poller-1", "poller-2"):
        environment = services[name]["environment"]
        assert "@postgres:5432/" in environment["STATUSCHECKER_DATABASE_URL"]
        assert environment["STATUSCHECKER_SECRET_KEY"].startswith("${STATUSCHECKER_SECRET_KEY:?")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "9999:9999" in services["api"]["ports"]


def test_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    """Validated against the Compose Specification's JSON schema, as shipped in the last Python
    docker-compose wheel (downloaded from PyPI, not installed); a misspelt key fails."""
    download = ["download", "--quiet", "--no-deps", "--dest", str(tmp_path)]
    subprocess.run([sys.executable, "-m", "pip", *download, "docker-compose==1.29.2"], check=True)
    (wheel,) = tmp_path.glob("docker_compose-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        schema = json.loads(archive.read("compose/config/compose_spec.json"))
    validator = jsonschema.Draft7Validator(schema)
    assert [error.message for error in validator.iter_errors(compose())] == []
    misspelt = compose()
    misspelt["services"]["api"]["restart_policy"] = "always"
    assert not validator.is_valid(misspelt)


def test_compose_mounts_the_prometheus_files() -> None:
    prometheus = compose()["services"]["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus")
    mounts = {}
    for volume in prometheus["volumes"]:
        source, target, *_ = volume.split(":")
        mounts[target] = source
    for name in ("prometheus.yml", "alerts.yml"):
        source = mounts[f"/etc/prometheus/{name}"]
        assert (DEPLOY / source).resolve() == PROMETHEUS / name


def test_every_scraped_target_is_a_compose_service() -> None:
    services = compose()["services"]
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    assert set(jobs) == {"statuschecker-api", "statuschecker-poller"}
    targets = {
        name: [t for config in job["static_configs"] for t in config["targets"]]
        for name, job in jobs.items()
    }
    assert targets["statuschecker-api"] == ["api:9999"]
    assert sorted(targets["statuschecker-poller"]) == ["poller-1:9998", "poller-2:9998"]
    for target in targets["statuschecker-api"] + targets["statuschecker-poller"]:
        host, _, _port = target.partition(":")
        assert host in services, f"{target} is scraped but no compose service is named {host}"


def test_alert_rules_cover_the_documented_metrics() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    exprs = " ".join(rule["expr"] for group in rules["groups"] for rule in group["rules"])
    assert "statuschecker_service_up" in exprs
    assert 'up{job="statuschecker-poller"} == 0' in exprs
    assert "histogram_quantile(0.99" in exprs
    assert "statuschecker_schedule_lag_seconds_bucket[5m]" in exprs
    assert "sum(rate(statuschecker_checks_total[5m])) == 0" in exprs


def test_the_api_serves_the_per_service_series_the_rules_need() -> None:
    # With sign-up open to anyone and no metrics token, /metrics leaves them out.
    environment = compose()["services"]["api"]["environment"]
    policy = environment.get("STATUSCHECKER_SIGNUP_POLICY", "open")
    assert policy in ("first-only", "closed") or "STATUSCHECKER_METRICS_TOKEN" in environment


@pytest.fixture
def promtool() -> str:
    """Prometheus's promtool (Debian's prometheus package; .ci/run installs it)."""
    found = shutil.which("promtool")
    if found is None:
        reason = "promtool is not installed (Debian: apt-get install prometheus)"
        if os.environ.get("REQUIRE_PROMTOOL"):  # set by .ci/run: CI must not skip these
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_promtool_accepts_the_config(promtool: str) -> None:
    # Also checks alerts.yml, which the config names relative to itself.
    subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS / "prometheus.yml")],
        check=True,
        capture_output=True,
    )


def test_promtool_accepts_the_rules(promtool: str) -> None:
    subprocess.run(
        [promtool, "check", "rules", str(PROMETHEUS / "alerts.yml")],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("role", ["api", "poller"])
def test_systemd_unit_parses_and_runs_its_role(role: str) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / f"statuschecker-{role}.service", encoding="utf-8")
    service = unit["Service"]
    executable, *arguments = service["ExecStart"].split()
    assert executable == "/opt/statuschecker/venv/bin/statuschecker"
    assert arguments[0] == role
    assert service["User"] == "statuschecker"
    assert service["EnvironmentFile"] == "/etc/statuschecker/env"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/statuschecker"
    # Longer than the default STATUSCHECKER_POLLER_SHUTDOWN_SECONDS (10).
    assert int(service["TimeoutStopSec"]) > 10
    if role == "poller":
        assert service["AmbientCapabilities"] == "CAP_NET_RAW"


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instructions = [line.split()[0].upper() for line in lines]
    assert instructions.count("FROM") > 1
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in instructions
    assert 'CMD ["statuschecker", "run"]' in lines


def test_dockerfile_installs_the_project_as_a_package() -> None:
    # A plain `pip install .` from the files a wheel is built from (test_packaging builds one
    # from the same); the installed package carries the spec and migrations, so the final image
    # needs no source tree on PYTHONPATH.
    lines = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copied = {
        source.rstrip("/")
        for line in lines
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    }
    assert set(BUILD_INPUTS) <= copied
    assert any(line.startswith("RUN ") and line.endswith("pip install .") for line in lines)
    assert not any("PYTHONPATH" in line for line in lines)


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".venv", "var", "client", ".git", ".mypy_cache", ".ruff_cache"):
        assert entry in ignored
    assert any("__pycache__" in entry for entry in ignored)
