"""End to end through the client generated from openapispec.yaml (`make client`), against the
running service: if spec and server drift apart, these calls stop parsing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accounts import PASSWORD
from targets import Target, closed_port_url
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))
generated = pytest.importorskip(
    "statuschecker_client", reason="generate the client first: `make client` (make test does)"
)

from statuschecker_client.api.accounts import (  # noqa: E402
    create_token,
    get_me,
    list_tokens,
    log_in,
    revoke_token,
    sign_up,
)
from statuschecker_client.api.health import get_health  # noqa: E402
from statuschecker_client.api.history import list_events, list_ticks  # noqa: E402
from statuschecker_client.api.services import (  # noqa: E402
    delete_service,
    get_service,
    list_services,
    register,
    update_service,
)
from statuschecker_client.api.status import (  # noqa: E402
    get_status_badge,
    get_uptime_badge,
    list_status,
)
from statuschecker_client.models import (  # noqa: E402
    AccessToken,
    ApiTokenCreate,
    ApiTokenList,
    ApiTokenSecret,
    Credentials,
    ListServicesStatus,
    Problem,
    Service,
    ServiceCreate,
    ServicePatch,
    Status,
    User,
)
from statuschecker_client.types import File  # noqa: E402


def anonymous(live_server: str) -> Any:
    """A client without a token, as for signing up and logging in."""
    return generated.Client(base_url=f"{live_server}/v1", raise_on_unexpected_status=True)


def logged_in(live_server: str, token: str) -> Any:
    """A client that sends `token` as its bearer token."""
    return generated.AuthenticatedClient(
        base_url=f"{live_server}/v1", token=token, raise_on_unexpected_status=True
    )


def sign_up_and_log_in(live_server: str, email: str) -> tuple[User, Any]:
    """Sign up with `email` and PASSWORD, log in; the account and a client acting as it."""
    credentials = Credentials(email=email, password=PASSWORD)
    user = sign_up.sync(client=anonymous(live_server), body=credentials)
    assert isinstance(user, User) and user.email == email
    token = log_in.sync(client=anonymous(live_server), body=credentials)
    assert isinstance(token, AccessToken) and token.token_type.value == "bearer"
    assert token.expires_in > 0
    return user, logged_in(live_server, token.access_token)


def test_a_service_through_its_whole_life(live_server: str) -> None:
    user, client = sign_up_and_log_in(live_server, "e2e@example.com")
    assert user.is_admin  # the first account
    me = get_me.sync(client=client)
    assert isinstance(me, User) and (me.id, me.email) == (user.id, user.email)

    with Target("up") as target:
        created = register.sync(
            client=client,
            body=ServiceCreate(name="e2e", url=target.url, interval_seconds=1, timeout_seconds=0.5),
        )
        assert isinstance(created, Service) and created.status == Status.UNKNOWN
        assert (created.owner_id, created.public) == (user.id, False)

        up = wait_until(
            lambda: (s := get_service.sync(created.id, client=client)).status == Status.UP and s
        )
        assert up.latest_event is not None and up.latest_event.date_ended is None
        assert up.metric.tick_count >= 1 and up.metric.uptime_percent == 100

        target.set_mode("down")
        wait_until(lambda: get_service.sync(created.id, client=client).status == Status.DOWN)

    events = list_events.sync(created.id, client=client)
    assert [e.event.value for e in events.data][:2] == ["downtime", "uptime"]
    since = datetime.now(UTC) - timedelta(minutes=5)
    newest = list_ticks.sync(created.id, client=client, since=since, limit=1)
    assert len(newest.data) == 1 and newest.next_cursor
    assert newest.data[0].up is False and newest.data[0].status_code == 503
    older = list_ticks.sync(created.id, client=client, cursor=newest.next_cursor, limit=500)
    assert older.data and older.data[0].checked_at < newest.data[0].checked_at
    assert older.data[-1].up is True

    paused = update_service.sync(created.id, client=client, body=ServicePatch(paused=True))
    assert isinstance(paused, Service) and paused.paused
    assert paused.status == Status.PAUSED
    assert paused.latest_event is not None and paused.latest_event.event.value == "downtime"
    listed = list_services.sync(client=client, status=ListServicesStatus.PAUSED)
    assert [s.name for s in listed.data] == ["e2e"]
    assert get_health.sync(client=anonymous(live_server)).status.value == "ok"

    # Without a token the status summary shows public services only.
    assert list_status.sync(client=anonymous(live_server)).data == []
    shown = update_service.sync(created.id, client=client, body=ServicePatch(public=True))
    assert isinstance(shown, Service) and shown.public
    public = list_status.sync(client=anonymous(live_server)).data
    assert [(s.id, s.name, s.status.value) for s in public] == [(created.id, "e2e", "paused")]

    # The badges come back as the SVG's bytes (a File), also without a token for a public one.
    for badge in (get_status_badge, get_uptime_badge):
        image = badge.sync(created.id, client=anonymous(live_server))
        assert isinstance(image, File), image
        svg = image.payload.read()
        assert svg.startswith(b"<svg") and svg.rstrip().endswith(b"</svg>"), svg[:100]
    assert b"paused" in get_status_badge.sync(created.id, client=client).payload.read()

    duplicate = register.sync(client=client, body=ServiceCreate(name="e2e", url="http://x.test/"))
    assert isinstance(duplicate, Problem) and duplicate.status == 409
    assert delete_service.sync_detailed(created.id, client=client).status_code == 204
    missing = get_service.sync(created.id, client=client)
    assert isinstance(missing, Problem) and missing.status == 404


def test_api_tokens_read_until_revoked_and_accounts_see_only_their_own(live_server: str) -> None:
    first, admin = sign_up_and_log_in(live_server, "first@example.com")
    user, client = sign_up_and_log_in(live_server, "second@example.com")
    assert first.is_admin and not user.is_admin
    owned = register.sync(client=client, body=ServiceCreate(name="mine", url=closed_port_url()))
    assert isinstance(owned, Service) and owned.owner_id == user.id
    theirs = register.sync(client=admin, body=ServiceCreate(name="theirs", url=closed_port_url()))
    assert isinstance(theirs, Service)
    assert [s.name for s in list_services.sync(client=client).data] == ["mine"]
    hidden = get_service.sync(theirs.id, client=client)
    assert isinstance(hidden, Problem) and hidden.status == 404
    assert {s.name for s in list_services.sync(client=admin).data} == {"mine", "theirs"}

    secret = create_token.sync(client=client, body=ApiTokenCreate(name="dashboard", read_only=True))
    assert isinstance(secret, ApiTokenSecret) and secret.read_only
    assert secret.token.startswith("sc_") and secret.expires_at is None
    expiring = create_token.sync(
        client=client, body=ApiTokenCreate(name="ci", expires_in_seconds=3600)
    )
    assert isinstance(expiring, ApiTokenSecret) and not expiring.read_only
    assert expiring.expires_at is not None
    assert timedelta(minutes=59) < expiring.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    tokens = list_tokens.sync(client=client)
    assert isinstance(tokens, ApiTokenList) and tokens.next_cursor is None
    assert [(t.id, t.name, t.read_only) for t in tokens.data] == [
        (secret.id, "dashboard", True),
        (expiring.id, "ci", False),
    ]
    assert "token" not in tokens.to_dict()["data"][0]  # the secret was shown once
    assert list_tokens.sync(client=admin).data == []  # tokens are the account's own

    reader = logged_in(live_server, secret.token)
    assert get_me.sync(client=reader).id == user.id
    assert [s.id for s in list_services.sync(client=reader).data] == [owned.id]
    refused = update_service.sync(owned.id, client=reader, body=ServicePatch(paused=True))
    assert isinstance(refused, Problem) and refused.status == 403
    assert get_service.sync(owned.id, client=client).paused is False

    foreign = revoke_token.sync_detailed(secret.id, client=admin)
    assert foreign.status_code == 404  # another account's token is not found
    assert revoke_token.sync_detailed(secret.id, client=client).status_code == 204
    revoked = list_services.sync(client=reader)
    assert isinstance(revoked, Problem) and revoked.status == 401
    assert [t.id for t in list_tokens.sync(client=client).data] == [expiring.id]
    ci = logged_in(live_server, expiring.token)
    assert get_me.sync(client=ci).id == user.id

    nobody = get_me.sync(client=anonymous(live_server))
    assert isinstance(nobody, Problem) and nobody.status == 401
    wrong = log_in.sync(
        client=anonymous(live_server),
        body=Credentials(email="second@example.com", password="not the password"),
    )
    assert isinstance(wrong, Problem) and wrong.status == 401
    taken = sign_up.sync(
        client=anonymous(live_server),
        body=Credentials(email="second@example.com", password=PASSWORD),
    )
    assert isinstance(taken, Problem) and taken.status == 409


def test_a_configuration_applied_and_exported_through_the_client(live_server: str) -> None:
    from statuschecker_client.api.config import apply_config, export_config
    from statuschecker_client.models import ConfigDocument, ConfigPlan, ConfigService

    _, client = sign_up_and_log_in(live_server, "config@example.com")
    document = ConfigDocument(
        services=[
            ConfigService(name="db", url=closed_port_url()),
            ConfigService.from_dict(
                {"name": "web", "url": closed_port_url(), "depends_on": ["db"]}
            ),
        ]
    )
    dry = apply_config.sync(client=client, body=document, dry_run=True)
    assert isinstance(dry, ConfigPlan) and not dry.applied
    assert [(c.action.value, c.name) for c in dry.changes] == [("create", "db"), ("create", "web")]
    applied = apply_config.sync(client=client, body=document)
    assert isinstance(applied, ConfigPlan) and applied.applied
    exported = export_config.sync(client=client)
    assert isinstance(exported, ConfigDocument)
    again = apply_config.sync(client=client, body=exported)
    assert isinstance(again, ConfigPlan) and (again.applied, again.changes) == (False, [])
    assert again.unchanged.services == 2


def test_an_incident_on_a_status_page_through_the_client(live_server: str) -> None:
    from statuschecker_client.api.incidents import add_incident_update, create_incident
    from statuschecker_client.api.pages import create_status_page
    from statuschecker_client.api.status import get_public_status_page, list_status_incidents
    from statuschecker_client.models import (
        Impact,
        IncidentReport,
        IncidentReportCreate,
        IncidentStatus,
        IncidentUpdateCreate,
        PublicStatusPage,
        StatusIncidentList,
        StatusPage,
        StatusPageCreate,
    )

    _, client = sign_up_and_log_in(live_server, "pages@example.com")
    shop = register.sync(
        client=client, body=ServiceCreate(name="shop", url=closed_port_url(), public=True)
    )
    assert isinstance(shop, Service)
    made = create_status_page.sync(
        client=client,
        body=StatusPageCreate(slug="shop", title="Shop status", service_ids=[shop.id]),
    )
    assert isinstance(made, StatusPage) and made.service_ids == [shop.id]
    written = create_incident.sync(
        client=client,
        body=IncidentReportCreate(
            title="Checkout slow", impact=Impact.MINOR, service_ids=[shop.id], message="Looking."
        ),
    )
    assert isinstance(written, IncidentReport) and written.status == IncidentStatus.INVESTIGATING
    resolved = add_incident_update.sync(
        written.id,
        client=client,
        body=IncidentUpdateCreate(status=IncidentStatus.RESOLVED, message="Fast again."),
    )
    assert isinstance(resolved, IncidentReport) and resolved.resolved_at is not None
    public = get_public_status_page.sync("shop", client=anonymous(live_server))
    assert isinstance(public, PublicStatusPage) and public.title == "Shop status"
    shown = list_status_incidents.sync(client=anonymous(live_server), page="shop")
    assert isinstance(shown, StatusIncidentList)
    assert [(i.source.value, i.id, i.title) for i in shown.data] == [
        ("written", written.id, "Checkout slow")
    ]
    assert [u.message for u in shown.data[0].updates] == ["Fast again.", "Looking."]
