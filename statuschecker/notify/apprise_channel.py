"""Apprise channel: one notification through any service apprise speaks (Slack, e-mail,
ntfy, JSON, ...), named by an apprise URL.

Apprise sends synchronously, so a notification runs on a worker thread. Three bounds keep a
dead receiver from holding that thread: the plugin's socket timeouts, apprise's own call
deadline, and the caller's deadline around the thread.
"""

from __future__ import annotations

import asyncio
import functools

import apprise
from apprise import NotifyBase, NotifyType

from statuschecker.notify import DeliveryError

# Sent as the application's name by plugins that announce one; nothing is kept on disk.
_ASSET = apprise.AppriseAsset(app_id="statuschecker", storage_mode="memory")

NOTIFY_TYPES = {"down": NotifyType.FAILURE, "recovered": NotifyType.SUCCESS}
_REPORTED_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


@functools.lru_cache(maxsize=1024)
def valid_apprise_url(url: str) -> bool:
    """Whether apprise knows the URL's scheme and accepts its parts. Asked each time a
    service is shown (for its warnings), so remembered: apprise parses, and logs each URL it
    refuses, once per process rather than once per answer."""
    return _plugin(url) is not None


async def send(
    url: str,
    title: str,
    body: str,
    timeout: float,  # noqa: ASYNC109 - also bounds the sockets, which a caller's deadline cannot
    *,
    notify_type: NotifyType = NotifyType.INFO,
) -> None:
    """Send one notification within `timeout`; raise `DeliveryError` with apprise's reason
    when it fails, "invalid apprise URL" when the URL is not one."""
    plugin = _plugin(url)
    if plugin is None:
        raise DeliveryError("invalid apprise URL")
    plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeout)
    plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeout)
    notifier = apprise.Apprise(plugin, asset=_ASSET)
    try:
        async with asyncio.timeout(timeout):
            result = await asyncio.to_thread(
                notifier.notify, body=body, title=title, notify_type=notify_type, timeout=timeout
            )
    except TimeoutError:
        raise DeliveryError("timeout") from None
    except Exception as exc:  # a plugin's bug must not end the notifier
        raise DeliveryError(f"apprise: {type(exc).__name__}: {exc}") from exc
    if not result:
        raise DeliveryError(_reason(result))


def _plugin(url: str) -> NotifyBase | None:
    """The apprise plugin for `url`, or None when apprise refuses the URL."""
    plugin = apprise.Apprise.instantiate(url, asset=_ASSET)
    return plugin if isinstance(plugin, NotifyBase) else None


def _reason(result: apprise.AppriseResult) -> str:
    """Why a notification failed: "timeout", else the last warning apprise logged."""
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        return "timeout"
    warnings = [entry.message for entry in result.logs() if entry.level in _REPORTED_LEVELS]
    if warnings:
        return warnings[-1].strip()
    return f"apprise: {result.status.name.lower()}"
