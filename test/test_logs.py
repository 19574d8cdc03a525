"""Log lines as `logs.configure` writes them: whatever writes them (statuschecker through
structlog, or a library through the standard `logging` module), secrets never reach them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in a process of its own: `logs.configure` sets up logging for the whole process.
SCRIPT = """
import logging

import structlog

from statuschecker.system import logs
from statuschecker.system.config import Settings
from statuschecker.notify.apprise_channel import valid_apprise_url

logs.configure(Settings(_env_file=None, log_format="json", log_level="info"))
assert not valid_apprise_url("slakc://APPRISESECRET1/abc")
logging.getLogger("uvicorn.error").info(
    "Uvicorn running on %s (Press CTRL+C to quit)", "http://127.0.0.1:9999"
)
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5001", "POST", "/ping/Ne7_PINGSECRET1x/3?rid=r1",
    "1.1", 200,
)
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/status?api_key=QSECRET1&page=2",
    "1.1", 200,
)
logging.getLogger("statuschecker.wrap").warning(
    "gave up on http://127.0.0.1:9999/ping/Ne7_PINGSECRET2x/start after 2 attempts"
)
logging.getLogger("httpx").warning(
    "GET https://bot:PWSECRET1@api.example.test/x?token=QSECRET2&page=3 failed"
)
logging.getLogger("sqlalchemy.pool").warning("lost postgresql://app:PWSECRET2@db.test/app")
structlog.get_logger("statuschecker.polling.recorder").warning(
    "service.state_changed", reason="redirect to https://u:PWSECRET3@x.test/?sig=QSECRET3"
)
try:
    raise ValueError("no answer from https://u:PWSECRET4@x.test/")
except ValueError:
    logging.getLogger("somelib").exception("request failed")
"""


def test_no_log_line_carries_a_secret_whoever_writes_it() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    lines = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == 9, ran.stderr
    for secret in ("APPRISESECRET", "QSECRET", "PWSECRET", "PINGSECRET"):
        assert secret not in ran.stderr
    pings = [line["event"] for line in lines if "/ping/" in line["event"]]
    # A heartbeat's ping key is its credential: all but its first 4 characters masked.
    assert '"POST /ping/Ne7_********/3?rid=r1 HTTP/1.1" 200' in pings[0]
    assert pings[1] == "gave up on http://127.0.0.1:9999/ping/Ne7_********/start after 2 attempts"
    by_logger = {line["logger"]: line for line in lines}
    # apprise's URLs carry tokens in every part: shown as the API shows them, scheme://host.
    assert by_logger["apprise"]["event"] == "Unparseable URL slakc://"
    # Ordinary URLs are left alone; passwords and secret query values are masked.
    assert by_logger["uvicorn.error"]["event"] == (
        "Uvicorn running on http://127.0.0.1:9999 (Press CTRL+C to quit)"
    )
    assert "/v1/status?api_key=********&page=2 " in by_logger["uvicorn.access"]["event"]
    assert by_logger["httpx"]["event"] == (
        "GET https://bot:********@api.example.test/x?token=********&page=3 failed"
    )
    assert by_logger["sqlalchemy.pool"]["event"] == "lost postgresql://app:********@db.test/app"
    assert by_logger["statuschecker.polling.recorder"]["reason"] == (
        "redirect to https://u:********@x.test/?sig=********"
    )
    assert (
        "ValueError: no answer from https://u:********@x.test/"
        in (by_logger["somelib"]["exception"])
    )
