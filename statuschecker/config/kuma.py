"""`statuschecker import kuma kuma.db`: an Uptime Kuma database (SQLite, as Uptime Kuma keeps
it) or a JSON backup of Uptime Kuma 1.x, as our configuration.

Monitors become services: HTTP(s) with method, body, headers, basic auth, accepted status codes,
redirects, keyword and JSON query; TCP ports; pings; DNS with its record type and resolver;
push monitors heartbeats. Retries become the confirmation, groups groups, tags tags, their
notifications (webhook, apprise, Slack, Discord, Telegram) receivers, their maintenance (one-off
or on weekdays) windows. Whatever else a monitor says is listed in the report."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from statuschecker.config.importing import Imported, unique

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TAG = re.compile(r"[^A-Za-z0-9_.:/-]+")
_SIMPLE_PATH = re.compile(r"^(?:\$\.)?([A-Za-z_][\w-]*(?:\.\w[\w-]*|\[\d+\])*)$")
# What a monitor has besides what a service takes: Uptime Kuma's own bookkeeping, and defaults
# that say nothing.
_IGNORED = {
    "id", "user_id", "weight", "created_date", "dns_last_result", "push_token", "parent",
    "resend_interval", "description", "http_body_encoding", "kafka_producer_ssl",
    "kafka_producer_allow_auto_topic_creation", "gamedig_given_port_only", "auth_method",
    "oauth_auth_method", "grpc_enable_tls", "expiry_notification", "packet_size",
}  # fmt: skip
_USED = {
    "name", "active", "interval", "url", "type", "hostname", "port", "keyword", "maxretries",
    "retry_interval", "method", "body", "headers", "basic_auth_user", "basic_auth_pass",
    "accepted_statuscodes_json", "maxredirects", "ignore_tls", "upside_down", "invert_keyword",
    "json_path", "expected_value", "dns_resolve_type", "dns_resolve_server", "timeout",
    "database_connection_string", "database_query",
}  # fmt: skip
DATABASES = {"postgres": "postgresql", "mysql": "mysql", "redis": "redis"}
"""Uptime Kuma's database monitors, and the schemes of their connection strings here."""


class KumaError(Exception):
    """The file is not an Uptime Kuma database or backup; the message says why."""


def read(path: str | Path) -> dict[str, Any]:
    """Monitors (each with its `tags` and `notifications` ids), notifications and maintenance
    windows (each with its `monitors` ids) of a database or a 1.x backup."""
    path = Path(path)
    try:
        head = path.open("rb").read(16)
    except OSError as exc:
        raise KumaError(f"{path}: cannot read it: {exc}") from None
    if head.startswith(b"SQLite format 3"):
        return _from_database(path)
    try:
        backup = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise KumaError(f"{path}: neither an SQLite database nor a JSON backup: {exc}") from None
    if not isinstance(backup, dict) or "monitorList" not in backup:
        raise KumaError(f"{path}: not an Uptime Kuma backup (it has no monitorList)")
    return _from_backup(backup)


def _from_database(path: Path) -> dict[str, Any]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise KumaError(f"{path}: {exc}") from None
    db.row_factory = sqlite3.Row
    try:
        monitors = {row["id"]: dict(row) for row in db.execute("SELECT * FROM monitor ORDER BY id")}
        for monitor in monitors.values():
            monitor["tags"], monitor["notifications"] = [], []
        for row in db.execute(
            "SELECT mt.monitor_id, t.name, mt.value FROM monitor_tag mt JOIN tag t"
            " ON t.id = mt.tag_id ORDER BY mt.id"
        ):
            monitors[row["monitor_id"]]["tags"].append((row["name"], row["value"]))
        for row in db.execute("SELECT monitor_id, notification_id FROM monitor_notification"):
            monitors[row["monitor_id"]]["notifications"].append(row["notification_id"])
        notifications = [dict(row) for row in db.execute("SELECT * FROM notification ORDER BY id")]
        windows = [dict(row) for row in db.execute("SELECT * FROM maintenance ORDER BY id")]
        for window in windows:
            window["monitors"] = [
                row[0]
                for row in db.execute(
                    "SELECT monitor_id FROM monitor_maintenance WHERE maintenance_id = ?",
                    (window["id"],),
                )
            ]
    except sqlite3.Error as exc:
        raise KumaError(f"{path}: not an Uptime Kuma database: {exc}") from None
    finally:
        db.close()
    return {
        "monitors": list(monitors.values()),
        "notifications": notifications,
        "maintenances": windows,
    }


# Uptime Kuma 1.x backups name some fields in camelCase.
_BACKUP_NAMES = {
    "retryInterval": "retry_interval", "ignoreTls": "ignore_tls", "upsideDown": "upside_down",
    "invertKeyword": "invert_keyword", "jsonPath": "json_path", "expectedValue": "expected_value",
    "pushToken": "push_token", "resendInterval": "resend_interval",
    "expiryNotification": "expiry_notification", "packetSize": "packet_size",
    "httpBodyEncoding": "http_body_encoding", "grpcEnableTls": "grpc_enable_tls",
    "kafkaProducerSsl": "kafka_producer_ssl", "authMethod": "auth_method",
    "kafkaProducerAllowAutoTopicCreation": "kafka_producer_allow_auto_topic_creation",
    "gamedigGivenPortOnly": "gamedig_given_port_only",
}  # fmt: skip


def _from_backup(backup: Mapping[str, Any]) -> dict[str, Any]:
    monitors = []
    for given in backup.get("monitorList") or []:
        monitor = {_BACKUP_NAMES.get(k, k): v for k, v in given.items()}
        monitor["accepted_statuscodes_json"] = json.dumps(monitor.pop("accepted_statuscodes", None))
        monitor["tags"] = [(t.get("name"), t.get("value")) for t in monitor.get("tags") or []]
        ids = monitor.pop("notificationIDList", None) or {}
        monitor["notifications"] = [int(i) for i, on in ids.items() if on]
        for key in (
            "notificationIDList",
            "childrenIDs",
            "pathName",
            "maintenance",
            "includeSensitiveData",
        ):
            monitor.pop(key, None)
        monitors.append(monitor)
    return {
        "monitors": monitors,
        "notifications": list(backup.get("notificationList") or []),
        "maintenances": [],
    }


def convert(data: Mapping[str, Any]) -> Imported:
    """The configuration document Uptime Kuma's `data` (see `read`) makes, with the report."""
    imported = Imported()
    receivers, receiver_of = _receivers(data.get("notifications") or [], imported)
    monitors = list(data.get("monitors") or [])
    groups = {m["id"]: m["name"] for m in monitors if m.get("type") == "group"}
    taken: set[str] = set()
    names: dict[int, str] = {}
    services = []
    for monitor in monitors:
        if monitor.get("type") == "group":
            continue
        service = _monitor(monitor, groups, receiver_of, taken, imported)
        if service is not None:
            names[monitor["id"]] = service["name"]
            services.append(service)
    document: dict[str, Any] = {}
    if receivers:
        document["receivers"] = receivers
    document["services"] = services
    windows = [
        window
        for given in data.get("maintenances") or []
        if (window := _window(given, names, imported))
    ]
    if windows:
        document["maintenances"] = windows
    imported.document = document
    return imported


def _monitor(
    monitor: Mapping[str, Any],
    groups: Mapping[int, str],
    receiver_of: Mapping[int, str],
    taken: set[str],
    imported: Imported,
) -> dict[str, Any] | None:
    kind = str(monitor.get("type"))
    where = f"monitor {monitor.get('id')} ({monitor.get('name')})"
    parent = groups.get(monitor.get("parent"))  # type: ignore[arg-type]
    service: dict[str, Any] = {
        "name": unique(str(monitor.get("name") or "unnamed"), taken, parent or "")
    }
    target = _target(kind, monitor, service, where, imported)
    if target is None:
        taken.discard(service["name"])
        return None
    if parent:
        service["group"] = parent
    if not monitor.get("active", 1):
        service["paused"] = True
    if kind != "push":
        interval = int(monitor.get("interval") or 60)
        service["interval_seconds"] = max(20, min(86400, interval))
        timeout = monitor.get("timeout")
        if timeout and float(timeout) > 0:
            service["timeout_seconds"] = max(0.1, min(60.0, float(timeout), float(interval)))
        retries = int(monitor.get("maxretries") or 0)
        if retries:
            service["confirm_down_after"] = min(10, retries + 1)
            if retries + 1 > 10:
                imported.unmapped(where, f"maxretries {retries}: confirmed after 10 failures")
            retry = int(monitor.get("retry_interval") or 0)
            if retry:
                service["retry_interval_seconds"] = max(1, min(86400, retry))
    tags = [_tag(name, value) for name, value in monitor.get("tags") or []]
    if tags:
        service["tags"] = sorted(set(tags))[:20]
    named = [receiver_of[i] for i in monitor.get("notifications") or [] if i in receiver_of]
    if named:
        service["receivers"] = sorted(set(named))
    for flag, what in (("upside_down", "upside-down mode"), ("ignore_tls", "ignoring TLS errors")):
        if monitor.get(flag):
            imported.unmapped(where, what)
    for key, value in monitor.items():
        if key in ("tags", "notifications") or key in _USED or key in _IGNORED:
            continue
        if value not in (None, "", 0, False, "[]", "{}", "null"):
            imported.unmapped(where, f"{key}")
    return service


def _target(
    kind: str,
    monitor: Mapping[str, Any],
    service: dict[str, Any],
    where: str,
    imported: Imported,
) -> str | None:
    """Put what and how the monitor checks into `service`; its URL, or None (reported) for a
    kind statuschecker does not check."""
    host, port = monitor.get("hostname"), monitor.get("port")
    if kind in ("http", "keyword", "json-query"):
        service["url"] = str(monitor.get("url"))
        _http(kind, monitor, service, where, imported)
    elif kind == "port" and host and port:
        service["url"] = f"tcp://{_bracketed(host)}:{port}"
    elif kind == "ping" and host:
        service["url"] = f"icmp://{_bracketed(host)}"
    elif kind == "dns" and host:
        service["url"] = f"dns://{host}"
        service["record_type"] = str(monitor.get("dns_resolve_type") or "A")
        resolver = monitor.get("dns_resolve_server")
        if resolver:
            service["resolver"] = (
                str(resolver) if not port or int(port) == 53 else f"{resolver}:{port}"
            )
    elif kind in DATABASES and "://" in str(monitor.get("database_connection_string")):
        _database(DATABASES[kind], monitor, service)
    elif kind == "push":
        service["heartbeat"] = {"interval_seconds": int(monitor.get("interval") or 60)}
        imported.unmapped(where, "its push token: statuschecker gives the heartbeat a ping URL")
        return "push"
    else:
        imported.unmapped(where, f"the whole monitor: statuschecker does not check {kind!r}")
        return None
    return str(service["url"])


def _database(scheme: str, monitor: Mapping[str, Any], service: dict[str, Any]) -> None:
    """A database monitor's connection string (its scheme made ours) and query."""
    given, _, rest = str(monitor["database_connection_string"]).partition("://")
    tls = scheme == "redis" and given.lower() == "rediss"
    service["url"] = f"{scheme}{'s' if tls else ''}://{rest}"
    if monitor.get("database_query") and scheme != "redis":
        service["query"] = str(monitor["database_query"])


def _http(
    kind: str, monitor: Mapping[str, Any], service: dict[str, Any], where: str, imported: Imported
) -> None:
    method = str(monitor.get("method") or "GET").upper()
    if method != "GET":
        service["method"] = method
    if monitor.get("body"):
        service["body"] = str(monitor["body"])
    headers = _json(monitor.get("headers"), {}) or {}
    if not isinstance(headers, dict):
        imported.unmapped(where, "headers that are not a JSON object")
        headers = {}
    if monitor.get("basic_auth_user"):
        pair = f"{monitor['basic_auth_user']}:{monitor.get('basic_auth_pass') or ''}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    if headers:
        service["headers"] = {str(k): str(v) for k, v in headers.items()}
    codes = _json(monitor.get("accepted_statuscodes_json"), ["200-299"]) or ["200-299"]
    if codes != ["200-299"]:
        service["expected_status"] = [int(c) if str(c).isdigit() else str(c) for c in codes]
    if monitor.get("maxredirects") == 0:
        service["follow_redirects"] = False
    if kind == "keyword" and monitor.get("keyword"):
        service["body_contains"] = str(monitor["keyword"])
        if monitor.get("invert_keyword"):
            del service["body_contains"]
            imported.unmapped(where, f"an inverted keyword ({monitor['keyword']!r} must be absent)")
    if kind == "json-query":
        path = _SIMPLE_PATH.match(str(monitor.get("json_path") or ""))
        if path:
            service["json_field"] = re.sub(r"\[(\d+)\]", r".\1", path.group(1))
            service["json_value"] = _json(
                monitor.get("expected_value"), monitor.get("expected_value")
            )
        else:
            imported.unmapped(where, f"JSON query {monitor.get('json_path')!r} (not a plain path)")


def _receivers(
    notifications: Iterable[Mapping[str, Any]], imported: Imported
) -> tuple[dict[str, Any], dict[int, str]]:
    """The notifications that map, as receivers; and the receiver of each notification id."""
    receivers: dict[str, Any] = {}
    receiver_of: dict[int, str] = {}
    for notification in notifications:
        config = _json(notification.get("config"), {}) or {}
        name = _receiver_name(
            str(notification.get("name") or ""), notification.get("id"), receivers
        )
        kind = config.get("type")
        where = f"notification {notification.get('id')} ({notification.get('name')})"
        if kind == "webhook" and config.get("webhookURL"):
            receivers[name] = {"webhooks": [{"url": config["webhookURL"]}]}
        elif kind == "apprise" and config.get("appriseNotificationURL"):
            receivers[name] = {"apprise_urls": [config["appriseNotificationURL"]]}
        elif kind == "slack" and config.get("slackwebhookURL"):
            receivers[name] = {"apprise_urls": [config["slackwebhookURL"]]}
        elif kind == "discord" and config.get("discordWebhookUrl"):
            receivers[name] = {"apprise_urls": [config["discordWebhookUrl"]]}
        elif kind == "telegram" and config.get("telegramBotToken") and config.get("telegramChatID"):
            url = f"tgram://{config['telegramBotToken']}/{config['telegramChatID']}"
            receivers[name] = {"apprise_urls": [url]}
        else:
            imported.unmapped(
                where, f"a {kind} notification: no receiver of statuschecker's takes it"
            )
            continue
        receiver_of[int(notification["id"])] = name
    return receivers, receiver_of


def _receiver_name(given: str, nid: Any, taken: Mapping[str, Any]) -> str:
    """A receiver's name for a notification: its own, as lower-case letters, digits, - and _,
    made unique with -2, -3, ..."""
    base = re.sub(r"[^a-z0-9_-]+", "-", given.lower()).strip("-_")[:36] or f"notification-{nid}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def _window(
    given: Mapping[str, Any], names: Mapping[int, str], imported: Imported
) -> dict[str, Any] | None:
    """A maintenance window: one-off (`single`) or on weekdays (`recurring-weekday`)."""
    title = str(given.get("title") or f"maintenance {given.get('id')}")
    where = f"maintenance {given.get('id')} ({title})"
    covered = sorted(names[i] for i in given.get("monitors") or [] if i in names)
    strategy = given.get("strategy")
    window: dict[str, Any] = {"title": title, "services": covered}
    if not covered:
        imported.unmapped(where, "it covers no monitor that was carried over")
        return None
    if strategy == "single" and given.get("start_date") and given.get("end_date"):
        zone = str(given.get("timezone") or "UTC")
        window["starts_at"] = _moment(given["start_date"])
        window["ends_at"] = _moment(given["end_date"])
        if zone not in ("UTC", "SAME_AS_SERVER"):
            imported.unmapped(where, f"its time zone {zone}: its times are taken as UTC")
    elif strategy == "recurring-weekday" and given.get("start_time") and given.get("end_time"):
        weekdays = _json(given.get("weekdays"), []) or []
        start = [int(p) for p in str(given["start_time"]).split(":")[:2]]
        end = [int(p) for p in str(given["end_time"]).split(":")[:2]]
        minutes = (end[0] * 60 + end[1] - start[0] * 60 - start[1]) % (24 * 60)
        days = ",".join(DAYS[(int(d) - 1) % 7] for d in weekdays) or ",".join(DAYS)
        window["rrule"] = f"FREQ=WEEKLY;BYDAY={days};BYHOUR={start[0]};BYMINUTE={start[1]}"
        window["duration_seconds"] = max(60, minutes * 60)
        zone = str(given.get("timezone") or "UTC")
        window["timezone"] = "UTC" if zone == "SAME_AS_SERVER" else zone
    else:
        imported.unmapped(where, f"a {strategy} window")
        return None
    if not given.get("active", 1):
        imported.unmapped(where, "it is not active")
        return None
    if given.get("description"):
        imported.unmapped(where, "description")
    return window


def _moment(text: Any) -> str:
    """A Kuma date-time (`2026-01-01 03:00:00`) as RFC 3339, in UTC."""
    return datetime.fromisoformat(str(text).replace(" ", "T")).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag(name: Any, value: Any) -> str:
    """A Kuma tag (a name and maybe a value) as one of ours: `name:value`, cleaned."""
    text = f"{name}:{value}" if value else str(name)
    cleaned = _TAG.sub("-", text).strip("-_.:/")
    return (cleaned or "tag")[:32]


def _bracketed(host: Any) -> str:
    return f"[{host}]" if ":" in str(host) else str(host)


def _json(text: Any, default: Any) -> Any:
    """A JSON column's value; `default` when it is empty or not JSON."""
    if text is None or text == "":
        return default
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return default
