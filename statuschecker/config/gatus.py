"""`statuschecker import gatus config.yaml`: a Gatus configuration as ours.

Endpoints become checked services (http(s), tcp, icmp, tls, and dns with its query), their
conditions the expectations they map to (status codes, response time, a JSON field and value,
text in the body, a DNS answer); external endpoints become heartbeats; groups stay groups;
alerting providers that speak webhooks (custom) or apprise (Slack, Discord, Telegram) become
receivers, an alert's thresholds the confirmation; the global maintenance window a recurring
one. Whatever else the file says is listed in the report."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from statuschecker import checks
from statuschecker.config.importing import Imported, seconds, unique

SCHEMES = {
    "http": "http", "https": "http", "tcp": "tcp", "udp": "udp", "icmp": "icmp", "tls": "tls",
    "ws": "ws", "wss": "ws", "starttls": "smtp", "grpc": "grpc", "grpcs": "grpc",
}  # fmt: skip
DEFAULT_INTERVAL = 60
_CONDITION = re.compile(
    r"^(?P<fn>len|has)?\(?\[(?P<placeholder>[A-Z_]+)\](?P<path>[^\s)]*)\)?\s*"
    r"(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>.+?)\s*$"
)
_DAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_ENDPOINT_FIELDS = {
    "name", "group", "url", "method", "body", "headers", "interval", "conditions", "enabled",
    "alerts", "dns", "client",
}  # fmt: skip


def convert(config: Mapping[str, Any]) -> Imported:
    """The configuration document Gatus's `config` makes, with the report of what it leaves."""
    imported = Imported()
    receivers = _receivers(config.get("alerting") or {}, imported)
    taken: set[str] = set()
    services = [
        service
        for index, endpoint in enumerate(config.get("endpoints") or [])
        if (service := _endpoint(endpoint, f"endpoints[{index}]", receivers, taken, imported))
    ]
    for index, endpoint in enumerate(config.get("external-endpoints") or []):
        services.append(_external(endpoint, f"external-endpoints[{index}]", taken, imported))
    for index, suite in enumerate(config.get("suites") or []):
        if journey := _suite(suite, f"suites[{index}]", receivers, taken, imported):
            services.append(journey)
    document: dict[str, Any] = {}
    if receivers:
        document["receivers"] = receivers
    document["services"] = services
    window = _maintenance(config.get("maintenance"), [s["name"] for s in services], imported)
    if window:
        document["maintenances"] = [window]
    for key in config:
        if key not in ("endpoints", "external-endpoints", "suites", "alerting", "maintenance"):
            imported.unmapped(key, "Gatus's own settings, not a service's")
    imported.document = document
    return imported


def _endpoint(
    endpoint: Mapping[str, Any],
    where: str,
    receivers: Mapping[str, Any],
    taken: set[str],
    imported: Imported,
) -> dict[str, Any] | None:
    name = str(endpoint.get("name") or "unnamed")
    where = f"{where} ({name})"
    url = str(endpoint.get("url") or "")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    service: dict[str, Any] = {"name": unique(name, taken, str(endpoint.get("group") or ""))}
    if "dns" in endpoint:
        query = endpoint["dns"] or {}
        service["url"] = f"dns://{query.get('query-name', '')}"
        service["resolver"] = url
        service["record_type"] = str(query.get("query-type", "A")).upper()
    elif scheme == "starttls":  # Gatus's STARTTLS endpoints are mail servers
        service["url"] = "smtp+starttls://" + url.split("://", 1)[1]
    elif scheme in SCHEMES:
        service["url"] = url
    else:
        taken.discard(service["name"])
        imported.unmapped(where, f"the whole endpoint: statuschecker does not check {url!r}")
        return None
    kind = "dns" if "dns" in endpoint else SCHEMES[scheme]
    if endpoint.get("group"):
        service["group"] = str(endpoint["group"])
    interval = seconds(endpoint.get("interval", DEFAULT_INTERVAL)) or DEFAULT_INTERVAL
    if interval != 30:  # statuschecker's default
        service["interval_seconds"] = max(1, min(86400, math.ceil(interval)))
    if endpoint.get("enabled") is False:
        service["paused"] = True
    for key in ("method", "body", "headers"):
        if endpoint.get(key) and key in checks.KINDS[kind].option_names:
            service[key] = endpoint[key]
        elif endpoint.get(key):
            imported.unmapped(where, f"{key}: a {kind} check sends none")
    client = dict(endpoint.get("client") or {})
    if "timeout" in client:
        timeout = seconds(client.pop("timeout"))
        if timeout:
            service["timeout_seconds"] = max(0.1, min(60.0, timeout))
    for key in client:
        imported.unmapped(where, f"client.{key}")
    for condition in endpoint.get("conditions") or []:
        _condition(str(condition), kind, service, where, imported)
    _alerts(endpoint.get("alerts") or [], service, receivers, where, imported)
    for key in endpoint:
        if key not in _ENDPOINT_FIELDS:
            imported.unmapped(where, f"{key}")
    return service


def _condition(
    text: str, kind: str, service: dict[str, Any], where: str, imported: Imported
) -> None:
    """Carry a condition over as the expectation it is, or report it."""
    match = _CONDITION.match(text)
    if not match or not _condition_mapped(match, kind, service):
        imported.unmapped(where, f"condition {text!r}")


def _condition_mapped(match: re.Match[str], kind: str, service: dict[str, Any]) -> bool:
    fn, placeholder, path, op, value = match.group("fn", "placeholder", "path", "op", "value")
    if fn:
        return False
    if placeholder == "CONNECTED" and (op, value) == ("==", "true"):
        return True  # what every check asks
    if placeholder == "DNS_RCODE" and kind == "dns" and (op, value) == ("==", "NOERROR"):
        return True
    if kind == "grpc" and (placeholder, path, op, value) == ("BODY", ".status", "==", "SERVING"):
        return True  # what the grpc check asks
    if placeholder == "RESPONSE_TIME" and op in ("<", "<=") and value.isdigit():
        service["max_response_time_ms"] = int(value)
        return True
    if placeholder == "STATUS" and kind == "http":
        return _status(op, value, service)
    if placeholder == "CERTIFICATE_EXPIRATION" and kind == "tls" and op in (">", ">="):
        hours = seconds(value)
        if hours is not None:
            service["min_cert_days"] = math.ceil(hours / 86400)
            return True
    if placeholder != "BODY" or op != "==" or value.startswith(("any(", "[")):
        return False
    if path:
        if kind != "http" or "json_field" in service or value.startswith("pat("):
            return False
        service["json_field"] = re.sub(r"\[(\d+)\]", r".\1", path.lstrip("."))
        service["json_value"] = _scalar(value)
        return True
    literal = re.fullmatch(r"pat\(\*([^*?\[\]]+)\*\)", value)
    body_checked = "body_contains" in checks.KINDS[kind].option_names
    if body_checked and literal and "body_contains" not in service:
        service["body_contains"] = literal.group(1)
        return True
    if kind == "dns" and not value.startswith("pat("):
        service["expected_value"] = value
        return True
    return False


def _status(op: str, value: str, service: dict[str, Any]) -> bool:
    codes = re.fullmatch(r"any\(([\d,\s]+)\)", value)
    if op == "==" and (value.isdigit() or codes):
        given = [int(c) for c in (codes.group(1).split(",") if codes else [value])]
        service["expected_status"] = [*service.get("expected_status", []), *given]
        return True
    if not value.isdigit():
        return False
    bound = int(value)
    ranges = {"<": (100, bound - 1), "<=": (100, bound), ">": (bound + 1, 599), ">=": (bound, 599)}
    if op not in ranges or not 100 <= ranges[op][0] <= ranges[op][1] <= 599:
        return False
    low, high = ranges[op]
    service["expected_status"] = [*service.get("expected_status", []), f"{low}-{high}"]
    return True


def _scalar(text: str) -> Any:
    """A condition's value as the JSON value it stands for."""
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return text


def _receivers(alerting: Mapping[str, Any], imported: Imported) -> dict[str, Any]:
    """Gatus's alerting providers that map, as receivers named by their type."""
    receivers: dict[str, Any] = {}
    for provider, settings in alerting.items():
        settings = settings or {}
        if provider == "custom" and settings.get("url"):
            receivers["custom"] = {"webhooks": [{"url": settings["url"]}]}
            left = set(settings) - {"url", "default-alert"}
        elif provider in ("slack", "discord") and settings.get("webhook-url"):
            receivers[provider] = {"apprise_urls": [settings["webhook-url"]]}
            left = set(settings) - {"webhook-url", "default-alert"}
        elif provider == "telegram" and settings.get("token") and settings.get("id"):
            url = f"tgram://{settings['token']}/{settings['id']}"
            receivers["telegram"] = {"apprise_urls": [url]}
            left = set(settings) - {"token", "id", "default-alert"}
        else:
            imported.unmapped(f"alerting.{provider}", "no receiver of statuschecker's takes it")
            continue
        for key in sorted(left):
            imported.unmapped(f"alerting.{provider}", key)
    return receivers


def _alerts(
    alerts: list[Any],
    service: dict[str, Any],
    receivers: Mapping[str, Any],
    where: str,
    imported: Imported,
) -> None:
    names = []
    for index, alert in enumerate(alerts):
        kind = str(alert.get("type"))
        if alert.get("enabled") is False:
            imported.unmapped(f"{where}.alerts[{index}]", f"a disabled {kind} alert")
            continue
        if kind not in receivers:
            imported.unmapped(f"{where}.alerts[{index}]", f"its {kind} alert (no such receiver)")
            continue
        names.append(kind)
        for key, field in (("failure-threshold", "confirm_down_after"),
                           ("success-threshold", "confirm_up_after")):  # fmt: skip
            if key in alert:
                service.setdefault(field, max(1, min(10, int(alert[key]))))
        if alert.get("send-on-resolved") is False:
            imported.unmapped(f"{where}.alerts[{index}]", "send-on-resolved: false")
        if alert.get("description"):
            imported.unmapped(f"{where}.alerts[{index}]", "description")
    if names:
        service["receivers"] = sorted(set(names))


def _suite(
    suite: Mapping[str, Any],
    where: str,
    receivers: Mapping[str, Any],
    taken: set[str],
    imported: Imported,
) -> dict[str, Any] | None:
    """A suite (endpoints run in order, sharing a context) as a journey: its endpoints become
    steps, what they `store` from `[BODY].path` captures, `[CONTEXT].name` a `{{name}}` (or
    the context's starting value)."""
    name = str(suite.get("name") or "unnamed")
    where = f"{where} ({name})"
    endpoints = list(suite.get("endpoints") or [])
    first = next((str(e.get("url", "")) for e in endpoints if _is_http(e)), None)
    if first is None:
        imported.unmapped(where, "the whole suite: no http(s) endpoint to start a journey from")
        return None
    origin = re.match(r"(?i)^https?://[^/?#]+", first)
    service: dict[str, Any] = {
        "name": unique(name, taken, str(suite.get("group") or "")),
        "url": f"journey+{origin[0] if origin else first}",
    }
    if suite.get("group"):
        service["group"] = str(suite["group"])
    service["interval_seconds"] = max(
        1, min(86400, math.ceil(seconds(suite.get("interval", "10m")) or 600))
    )
    service["timeout_seconds"] = max(0.1, min(60.0, seconds(suite.get("timeout", "5m")) or 60.0))
    if suite.get("enabled") is False:
        service["paused"] = True
    context = {str(k): str(v) for k, v in (suite.get("context") or {}).items()}
    stored: set[str] = set()
    steps = []
    for index, endpoint in enumerate(endpoints):
        at = f"{where}.endpoints[{index}]"
        step = _step(_contextual(endpoint, context, stored, at, imported), at, receivers, imported)
        if step is None:
            continue
        if origin and step["url"].lower().startswith(origin[0].lower() + "/"):
            step["url"] = step["url"][len(origin[0]) :]  # relative to the journey's base
        receivers_of = step.pop("receivers", [])
        service["receivers"] = sorted({*service.get("receivers", []), *receivers_of})
        captures = _stored(endpoint.get("store") or {}, at, imported)
        if captures:
            step["captures"] = captures
            stored.update(captures)
        if endpoint.get("always-run"):
            imported.unmapped(at, "always-run: a journey stops at its first failing step")
        steps.append(step)
    if not service.get("receivers"):
        service.pop("receivers", None)
    service["steps"] = steps
    for key in suite:
        if key not in ("name", "group", "interval", "timeout", "enabled", "context", "endpoints"):
            imported.unmapped(where, f"{key}")
    return service


def _is_http(endpoint: Mapping[str, Any]) -> bool:
    return str(endpoint.get("url", "")).lower().startswith(("http://", "https://"))


def _contextual(
    endpoint: Mapping[str, Any],
    context: Mapping[str, str],
    stored: set[str],
    where: str,
    imported: Imported,
) -> dict[str, Any]:
    """The endpoint with `[CONTEXT].name` in its URL, body and header values as `{{name}}`
    (stored by an earlier step) or the context's starting value; conditions that compare with
    the context are left out, reported."""

    def filled(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            key = match[1]
            if key in stored:
                return "{{" + key + "}}"
            if key in context:
                return context[key]
            imported.unmapped(where, f"[CONTEXT].{key}: stored by no earlier endpoint")
            return match[0]

        return re.sub(r"\[CONTEXT\]\.([A-Za-z0-9_-]+)", one, text)

    given = dict(endpoint)
    for key in ("url", "body"):
        if isinstance(given.get(key), str):
            given[key] = filled(given[key])
    if isinstance(given.get("headers"), dict):
        given["headers"] = {k: filled(str(v)) for k, v in given["headers"].items()}
    conditions = []
    for condition in given.get("conditions") or []:
        if "[CONTEXT]" in str(condition):
            imported.unmapped(where, f"condition {condition!r}: it compares with the context")
        else:
            conditions.append(condition)
    given["conditions"] = conditions
    for key in ("store", "always-run"):
        given.pop(key, None)
    return given


def _step(
    endpoint: Mapping[str, Any], where: str, receivers: Mapping[str, Any], imported: Imported
) -> dict[str, Any] | None:
    """A suite's endpoint as a journey's step: its request and expectations, as an endpoint of
    its own would have them (a response-time limit as its total phase's), and its alerts'
    receivers."""
    if not _is_http(endpoint):
        imported.unmapped(where, "the whole endpoint: a journey's steps are http(s) requests")
        return None
    service = _endpoint(endpoint, where, receivers, set(), imported)
    if service is None:
        return None
    step: dict[str, Any] = {"name": service.pop("name"), "url": service.pop("url")}
    if "max_response_time_ms" in service:
        step["max_phase_ms"] = {"total": service.pop("max_response_time_ms")}
    for key in ("interval_seconds", "timeout_seconds", "confirm_down_after", "confirm_up_after"):
        service.pop(key, None)  # the suite's, for the whole journey
    for key in ("interval", "enabled", "group"):
        if key in endpoint:
            imported.unmapped(where, f"{key}: the suite's applies to all its steps")
    service.pop("paused", None)
    service.pop("group", None)
    return step | service


def _stored(store: Mapping[str, Any], where: str, imported: Imported) -> dict[str, Any]:
    """What an endpoint stores, as captures: `[BODY].path` (a JSON field) only."""
    captures = {}
    for key, value in store.items():
        field = re.fullmatch(r"\[BODY\]\.(.+)", str(value))
        if field:
            captures[str(key)] = {"json": re.sub(r"\[(\d+)\]", r".\1", field[1])}
        else:
            imported.unmapped(where, f"store.{key}: only [BODY].path becomes a capture")
    return captures


def _external(
    endpoint: Mapping[str, Any], where: str, taken: set[str], imported: Imported
) -> dict[str, Any]:
    """An external endpoint (results pushed to Gatus) as a heartbeat."""
    name = str(endpoint.get("name") or "unnamed")
    where = f"{where} ({name})"
    service: dict[str, Any] = {"name": unique(name, taken, str(endpoint.get("group") or ""))}
    interval = seconds((endpoint.get("heartbeat") or {}).get("interval", 0))
    if not interval:
        imported.unmapped(where, "no heartbeat interval: expected daily")
    service["heartbeat"] = {"interval_seconds": math.ceil(interval or 86400)}
    if endpoint.get("group"):
        service["group"] = str(endpoint["group"])
    if endpoint.get("enabled") is False:
        service["paused"] = True
    if endpoint.get("token"):
        imported.unmapped(where, "token: statuschecker gives the heartbeat a ping URL instead")
    for key in endpoint:
        if key not in ("name", "group", "heartbeat", "enabled", "token"):
            imported.unmapped(where, key)
    return service


def _maintenance(
    given: Mapping[str, Any] | None, names: list[str], imported: Imported
) -> dict[str, Any] | None:
    """Gatus's maintenance window, over every service, as a recurring one."""
    if not given or given.get("enabled") is False:
        return None
    start = re.fullmatch(r"(\d{1,2}):(\d{2})", str(given.get("start", "")))
    duration = seconds(given.get("duration", ""))
    if not start or not duration or not names or len(names) > 500:
        imported.unmapped("maintenance", "a window this importer cannot carry over")
        return None
    hour, minute = int(start.group(1)), int(start.group(2))
    days = [_DAYS.get(str(day).lower()) for day in given.get("every") or []]
    if None in days:
        imported.unmapped("maintenance", f"every: {given.get('every')}")
        return None
    rule = f"FREQ=WEEKLY;BYDAY={','.join(days)}" if days else "FREQ=DAILY"  # type: ignore[arg-type]
    return {
        "title": "Gatus maintenance",
        "services": names,
        "rrule": f"{rule};BYHOUR={hour};BYMINUTE={minute}",
        "duration_seconds": max(60, math.ceil(duration)),
        "timezone": str(given.get("timezone") or "UTC"),
    }
