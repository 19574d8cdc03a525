"""Access to the running statuschecker and to the caller from inside a request."""

from __future__ import annotations

from connexion.context import context, request, scope

from statuschecker.accounts.users import Accounts
from statuschecker.model import Caller, Visibility
from statuschecker.runtime import Runtime
from statuschecker.services.maintenances import Maintenances
from statuschecker.services.registry import ServiceRegistry

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


def client_address() -> str:
    """The address the request came from (after uvicorn applied trusted proxy headers)."""
    client = request.client
    return client.host if client else "unknown"
