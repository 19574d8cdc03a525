"""Access to the running statuschecker and to the caller from inside a request."""

from __future__ import annotations

from typing import Any

from connexion.context import context, request, scope

from statuschecker.accounts.users import Accounts
from statuschecker.model import Caller, Service, Visibility
from statuschecker.runtime import Runtime
from statuschecker.services.incidents import Incidents
from statuschecker.services.maintenances import Maintenances
from statuschecker.services.pages import Pages
from statuschecker.services.registry import ServiceRegistry
from statuschecker.services.subscriptions import Subscriptions
from web import serialize

ANONYMOUS = Caller()


def runtime() -> Runtime:
    """The Runtime the app's lifespan put into the request's state."""
    return scope["state"]["runtime"]


def services() -> ServiceRegistry:
    """The service layer of the running statuschecker."""
    return runtime().services


def maintenances() -> Maintenances:
    """The maintenance windows of the running statuschecker."""
    return runtime().maintenances


def incidents() -> Incidents:
    """The incidents' operations."""
    return runtime().incidents


def pages() -> Pages:
    """The status pages' operations."""
    return runtime().pages


def subscriptions() -> Subscriptions:
    """The status pages' subscriptions."""
    return runtime().subscriptions


def accounts() -> Accounts:
    """The accounts of the running statuschecker."""
    return runtime().accounts


def caller() -> Caller:
    """Who sent the request, as the security handler found (anonymous without a token)."""
    token_info = context.get("token_info") or {}
    return token_info.get("caller", ANONYMOUS)


def visible() -> Visibility:
    """The services the caller may see."""
    return Visibility.of(caller())


def visible_on_status() -> Visibility:
    """The services the caller may see on the status views: the public ones besides."""
    return Visibility.on_status(caller())


def ping_base() -> str:
    """Where heartbeats' ping URLs start: the public URL of the settings, or the address the
    request came to."""
    configured = runtime().settings.public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def own_service(service: Service) -> dict[str, Any]:
    """`service` as the API shows it to the caller, its ping key whole only to its own
    account with a token that may write (a read-only token or an admin looking at another
    account's service sees it masked: with the key, anyone can move its status)."""
    who = caller()
    reveal = who.user_id == service.owner_id and not who.read_only and not who.anonymous
    return serialize.service(service, ping_base(), reveal_key=reveal)


def client_address() -> str:
    """The address the request came from (after uvicorn applied trusted proxy headers)."""
    client = request.client
    return client.host if client else "unknown"
