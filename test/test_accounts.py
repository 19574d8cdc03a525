"""Accounts and credentials: sign-up and its policy, log-in, access and API tokens (expired,
tampered, revoked, read-only), attempt limits, and secrets kept out of answers and logs."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from accounts import PASSWORD, Account
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from statuschecker.accounts import credentials, users
from statuschecker.errors import InvalidInput, TooManyRequests, Unauthorized
from statuschecker.model import Caller
from statuschecker.runtime import Runtime
from statuschecker.store.engine import create_db_engine
from statuschecker.system.config import Settings
from web.app import create_app

PROBLEM = "application/problem+json"


@pytest.fixture
def make_api(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Any]]:
    """Makes an anonymous test client of an app whose runtime has the given settings."""
    with_clients: list[Any] = []

    def make(**overrides: Any) -> Any:
        client = create_app(make_runtime(**overrides), validate_responses=True).test_client()
        with_clients.append(client)
        return client.__enter__()

    yield make
    for client in with_clients:
        client.__exit__(None, None, None)


def sign_up(api: Any, email: str, password: str = PASSWORD, **headers: str) -> Any:
    return api.post("/v1/users", json={"email": email, "password": password}, headers=headers)


def log_in(api: Any, email: str, password: str = PASSWORD) -> Any:
    return api.post("/v1/auth/token", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, detail_part: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert detail_part in response.json()["detail"]


def test_sign_up_log_in_and_who_am_i(make_api: Callable[..., Any]) -> None:
    api = make_api()
    first = sign_up(api, "  Alice@Example.com ")
    assert first.status_code == 201, first.text
    assert first.json()["email"] == "alice@example.com" and first.json()["is_admin"] is True
    second = sign_up(api, "bob@example.com")
    assert second.status_code == 201 and second.json()["is_admin"] is False
    assert_problem(sign_up(api, "ALICE@example.com"), 409, "exists already")

    token = log_in(api, "alice@EXAMPLE.com").json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    me = api.get("/v1/users/me", headers=bearer(token["access_token"]))
    assert me.status_code == 200 and me.json() == first.json()
    assert "password" not in json.dumps(me.json()) and "hash" not in json.dumps(me.json())


def test_wrong_credentials_get_one_answer_and_leave_no_password_in_logs(
    make_api: Callable[..., Any],
) -> None:
    api = make_api()
    sign_up(api, "alice@example.com")
    with structlog.testing.capture_logs() as logs:
        wrong = log_in(api, "alice@example.com", "not the password at all")
        unknown = log_in(api, "nobody@example.com", "not the password at all")
    assert_problem(wrong, 401, "wrong e-mail or password")
    assert wrong.json() == unknown.json()
    failed = [e for e in logs if e["event"] == "account.log_in_failed"]
    assert [e["email"] for e in failed] == ["alice@example.com", "nobody@example.com"]
    assert "not the password" not in repr(logs)


def test_a_short_password_is_refused_without_repeating_it(
    make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG"):
        response = sign_up(make_api(), "alice@example.com", "hunter2-x")
    assert_problem(response, 400, "'password' is invalid")
    assert "min length 12" in response.json()["detail"]
    assert "hunter2" not in response.text and "hunter2" not in caplog.text


def test_a_bad_e_mail_is_refused(make_api: Callable[..., Any]) -> None:
    api = make_api()
    for email in ("no-at-sign", "a@b", "two words@example.com"):
        assert sign_up(api, email).status_code == 400, email


def test_first_only_sign_up_lets_the_first_in_then_only_admins_add(
    make_api: Callable[..., Any],
) -> None:
    api = make_api(signup_policy="first-only")
    assert sign_up(api, "root@example.com").json()["is_admin"] is True
    assert_problem(sign_up(api, "eve@example.com"), 403, "sign-up is first-only")
    admin = bearer(log_in(api, "root@example.com").json()["access_token"])
    added = sign_up(api, "eve@example.com", **admin)
    assert added.status_code == 201 and added.json()["is_admin"] is False
    eve = bearer(log_in(api, "eve@example.com").json()["access_token"])
    assert_problem(sign_up(api, "mallory@example.com", **eve), 403, "sign-up is first-only")


def add_user(settings: Settings, email: str, password: str) -> subprocess.CompletedProcess:
    """`statuschecker user add EMAIL`, the password on standard input."""
    env = {
        **os.environ,
        "STATUSCHECKER_DATABASE_URL": str(settings.database_url),
        "STATUSCHECKER_DATA_DIR": str(settings.data_dir),
    }
    command = [sys.executable, "-m", "statuschecker.cli", "user", "add", email]
    return subprocess.run(
        command, input=password + "\n", env=env, capture_output=True, text=True, timeout=60
    )


def test_closed_sign_up_takes_accounts_from_the_command_line_and_admins(
    make_api: Callable[..., Any], settings: Settings
) -> None:
    api = make_api(signup_policy="closed")
    assert_problem(sign_up(api, "root@example.com"), 403, "sign-up is closed")
    short = add_user(settings, "root@example.com", "short")
    assert short.returncode == 1 and "12 characters or more" in short.stderr
    added = add_user(settings, "Root@Example.com", PASSWORD)
    assert added.returncode == 0, added.stderr
    assert "root@example.com (admin)" in added.stdout
    admin = bearer(log_in(api, "root@example.com").json()["access_token"])
    assert sign_up(api, "eve@example.com", **admin).status_code == 201
    assert_problem(sign_up(api, "mallory@example.com"), 403, "sign-up is closed")


def test_expired_tampered_and_foreign_tokens_get_401(
    make_api: Callable[..., Any], account: Account, settings: Settings
) -> None:
    api = make_api()
    key = credentials.signing_key(settings)
    assert api.get("/v1/users/me", headers=account.headers).status_code == 200
    expired = credentials.issue_access_token(account.user.id, key, ttl_seconds=-1)
    header, payload, signature = account.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(account.user.id + 1)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{forged}.{signature}"
    foreign = credentials.issue_access_token(account.user.id, "x" * 48, 3600)
    for token in (expired, tampered, foreign, "sc_not-a-token", "garbage"):
        refused = api.get("/v1/users/me", headers=bearer(token))
        assert_problem(refused, 401)
        assert refused.headers["www-authenticate"] == "Bearer", token
    assert_problem(api.get("/v1/users/me"), 401, "No authorization token provided")


def test_api_tokens_are_shown_once_listed_without_secret_and_revoked(
    make_client: Callable[..., Any], account: Account, make_account: Callable[..., Account]
) -> None:
    owner = make_client(account)
    created = owner.post("/v1/tokens", json={"name": "scraper", "expires_in_seconds": 3600})
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    assert secret.startswith("sc_") and created.json()["expires_at"] is not None
    listed = owner.get("/v1/tokens").json()["data"]
    assert [t["name"] for t in listed] == ["scraper"] and secret not in json.dumps(listed)

    with_token = make_client(Account(account.user, secret))
    assert with_token.get("/v1/users/me").json()["id"] == account.user.id
    made = with_token.post("/v1/services", json={"name": "by-token", "url": "http://a.test/"})
    assert made.status_code == 201, "a read-write token writes"

    other = make_client(make_account("other@example.com"))
    token_id = created.json()["id"]
    assert_problem(other.delete(f"/v1/tokens/{token_id}"), 404)
    assert owner.delete(f"/v1/tokens/{token_id}").status_code == 204
    assert_problem(with_token.get("/v1/users/me"), 401, "revoked")
    assert owner.get("/v1/tokens").json()["data"] == []


def test_a_read_only_token_reads_but_never_writes(
    make_client: Callable[..., Any], account: Account
) -> None:
    owner = make_client(account)
    service = owner.post("/v1/services", json={"name": "s", "url": "http://a.test/"}).json()
    secret = owner.post("/v1/tokens", json={"name": "ro", "read_only": True}).json()["token"]
    reader = make_client(Account(account.user, secret))
    assert reader.get("/v1/services").json()["data"][0]["id"] == service["id"]
    assert reader.get(f"/v1/services/{service['id']}/ticks").status_code == 200
    writes = [
        ("POST", "/v1/services", {"name": "t", "url": "http://a.test/"}),
        ("PATCH", f"/v1/services/{service['id']}", {"paused": True}),
        ("DELETE", f"/v1/services/{service['id']}", None),
        ("POST", "/v1/tokens", {"name": "escalate"}),
        ("DELETE", "/v1/tokens/1", None),
    ]
    for method, path, body in writes:
        response = reader.request(method, path, json=body) if body else reader.request(method, path)
        assert_problem(response, 403, "read-only")
    assert owner.get(f"/v1/services/{service['id']}").json()["paused"] is False


def test_an_expired_api_token_gets_401(
    make_client: Callable[..., Any], account: Account, db: Engine
) -> None:
    owner = make_client(account)
    made = owner.post("/v1/tokens", json={"name": "short", "expires_in_seconds": 60}).json()
    with db.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1 second'"))
    assert_problem(make_client(Account(account.user, made["token"])).get("/v1/services"), 401)


def test_log_in_and_sign_up_are_limited_per_address(make_api: Callable[..., Any]) -> None:
    api = make_api(auth_rate_limit="3/minute")
    for i in range(3):
        assert sign_up(api, f"user{i}@example.com").status_code == 201
    limited = sign_up(api, "user3@example.com")
    assert_problem(limited, 429, "too many sign-up attempts for this address")
    assert 0 < int(limited.headers["retry-after"]) <= 60
    for _ in range(3):
        assert log_in(api, "user0@example.com", "a wrong password!").status_code == 401
    assert_problem(log_in(api, "user0@example.com"), 429, "too many log-in attempts")


def test_log_in_is_limited_per_e_mail_across_addresses(
    make_runtime: Callable[..., Runtime],
) -> None:
    accounts = make_runtime(auth_rate_limit="2/minute").accounts
    for address in ("10.0.0.1", "10.0.0.2"):
        with pytest.raises(Exception, match="wrong e-mail or password"):
            accounts.log_in("target@example.com", "guess number one", address)
    with pytest.raises(TooManyRequests, match="for this email") as limited:
        accounts.log_in("target@example.com", "guess number two", "10.0.0.3")
    assert limited.value.retry_after > 0


def test_the_signing_key_is_generated_once_and_kept_private(settings: Settings) -> None:
    key = credentials.signing_key(settings)
    assert len(key) >= 32 and credentials.signing_key(settings) == key
    assert stat.S_IMODE(settings.secret_key_file.stat().st_mode) == 0o600
    given = settings.model_copy(update={"secret_key": SecretStr("k" * 40)})
    assert credentials.signing_key(given) == "k" * 40


def test_secret_headers_and_url_passwords_are_masked_and_kept(client: Any, db: Engine) -> None:
    body: dict[str, Any] = {
        "name": "private",
        "url": "https://bot:hunter2hunter2@api.example.test/health",
        "headers": {"Authorization": "Bearer s3cr3t-value", "X-Api-Key": "k3y", "Accept": "a"},
    }
    created = client.post("/v1/services", json=body)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["url"] == "https://bot:********@api.example.test/health"
    assert shown["check_options"]["headers"] == {
        "Authorization": "********",
        "X-Api-Key": "********",
        "Accept": "a",
    }
    patched = client.patch(
        f"/v1/services/{shown['id']}",
        json={"url": shown["url"], "headers": {**shown["check_options"]["headers"], "Accept": "b"}},
    )
    assert patched.status_code == 200, patched.text
    for response in (created, patched, client.get(f"/v1/services/{shown['id']}")):
        assert "s3cr3t" not in response.text and "hunter2" not in response.text
        assert "k3y" not in response.text
    with db.connect() as conn:
        url, options = conn.execute(text("SELECT url, check_options FROM services")).one()
    assert url == body["url"]
    assert options["headers"] == {**body["headers"], "Accept": "b"}


def test_secret_query_values_are_masked_everywhere_and_kept(
    client: Any, make_client: Callable[..., Any], db: Engine
) -> None:
    url = (
        "https://api.example.test/health?api_key=Q1SECRET&page=2&sig=Q2SECRET&access_token=Q3SECRET"
    )
    hook = "https://hooks.example.test/in?token=Q4SECRET&channel=ops"
    body = {
        "name": "queried",
        "url": url,
        "public": True,
        "alert_policy": {"webhooks": [{"url": hook}]},
    }
    created = client.post("/v1/services", json=body)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["url"] == (
        "https://api.example.test/health?api_key=********&page=2&sig=********&access_token=********"
    )
    assert shown["alert_policy"]["webhooks"] == [
        {"url": "https://hooks.example.test/in?token=********&channel=ops", "has_secret": False}
    ]
    sid = shown["id"]
    patched = client.patch(  # sent back as shown, with one value changed
        f"/v1/services/{sid}",
        json={
            "url": shown["url"].replace("page=2", "page=3"),
            "alert_policy": {"webhooks": [{"url": shown["alert_policy"]["webhooks"][0]["url"]}]},
        },
    )
    assert patched.status_code == 200, patched.text
    anonymous = make_client()
    answers = [
        created,
        patched,
        client.get(f"/v1/services/{sid}"),
        client.get("/v1/services"),
        anonymous.get("/v1/status"),
        anonymous.get("/v1/status/service/queried"),
    ]
    for answer in answers:
        assert answer.is_success, answer.text
        assert "SECRET" not in answer.text and "api_key=********" in answer.text
    with db.connect() as conn:
        stored, policy = conn.execute(text("SELECT url, alert_policy FROM services")).one()
    assert stored == url.replace("page=2", "page=3")
    assert policy["webhooks"] == [{"url": hook, "secret": None}]


def test_error_details_mask_the_urls_they_quote(
    client: Any, make_runtime: Callable[..., Runtime], account: Account
) -> None:
    answer = client.post("/v1/services", json={"name": "bad", "url": "http://u:PW1@a.test:99999/"})
    assert_problem(answer, 400, "'url' is not of the form")
    hook = {"url": "tcp://u:PW2@hooks.test:1/?key=QS1"}
    answer = client.post(
        "/v1/services",
        json={"name": "bad", "url": "http://a.test/", "alert_policy": {"webhooks": [hook]}},
    )
    assert_problem(answer, 400, "'alert_policy.webhooks.0.url' is not of the form")
    assert "PW2" not in answer.text and "QS1" not in answer.text
    # What the contract lets through is not the only way in: the service layer masks too.
    services = make_runtime().services
    for url, shown in [
        ("gopher://:PW3@127.0.0.1/", "in 'gopher://:********@127.0.0.1/'"),
        (
            "http://u:PW4@a.test:99999/?token=QS2",
            "'http://u:********@a.test:99999/?token=********'",
        ),
    ]:
        with pytest.raises(InvalidInput) as refused:
            services.register(account.caller, "bad", url)
        assert shown in refused.value.detail
        assert "PW" not in str(refused.value) and "QS" not in str(refused.value)


def test_request_bodies_are_bounded(make_api: Callable[..., Any], account: Account) -> None:
    api = make_api(max_request_bytes=2048)
    big = {"name": "big", "url": "http://a.test/", "body": "x" * 4000}
    assert_problem(api.post("/v1/services", json=big, headers=account.headers), 413, "2048")

    def chunks() -> Iterator[bytes]:
        yield json.dumps(big).encode()[:1500]
        yield json.dumps(big).encode()[1500:]

    streamed = api.post(
        "/v1/services",
        content=chunks(),
        headers={
            **account.headers,
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    assert_problem(streamed, 413, "2048")  # chunked, read up to the limit and no further
    assert api.get("/v1/services", headers=account.headers).json()["data"] == []


def test_metrics_asks_for_its_token_when_one_is_set(make_api: Callable[..., Any]) -> None:
    api = make_api(metrics_token=SecretStr("scrape-me-please"))
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers=bearer("wrong")).status_code == 401
    scraped = api.get("/metrics", headers=bearer("scrape-me-please"))
    assert scraped.status_code == 200 and "statuschecker_" in scraped.text
    assert make_api().get("/metrics").status_code == 200


def test_per_service_series_need_a_token_while_anyone_may_sign_up(
    make_api: Callable[..., Any], make_runtime: Callable[..., Runtime], account: Account
) -> None:
    make_runtime().services.register(account.caller, "secret-project", "http://127.0.0.1:9/")
    withheld = "metrics.service_series_withheld"
    with structlog.testing.capture_logs() as logs:
        open_api = make_api(with_poller=True)  # signup_policy "open", no metrics token
    assert [e["log_level"] for e in logs if e["event"] == withheld] == ["warning"]
    scraped = open_api.get("/metrics")
    assert scraped.status_code == 200
    assert "statuschecker_service_" not in scraped.text and "secret-project" not in scraped.text
    assert "statuschecker_checks_total" in scraped.text  # the rest is served
    token = "scrape-me-please"
    for settings, headers in (
        ({"signup_policy": "first-only"}, {}),
        ({"metrics_token": SecretStr(token)}, bearer(token)),
    ):
        with structlog.testing.capture_logs() as logs:
            api = make_api(**settings)
        assert not [e for e in logs if e["event"] == withheld]
        assert 'service_name="secret-project"' in api.get("/metrics", headers=headers).text


def test_without_the_database_only_tokens_lately_found_valid_authenticate(
    make_runtime: Callable[..., Runtime],
    account: Account,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(users, "FRESH_SECONDS", 0.0)  # every authentication asks the database
    accounts = make_runtime().accounts
    _, kept = accounts.create_token(account.caller, "kept", read_only=True, expires_in_seconds=None)
    gone, revoked = accounts.create_token(account.caller, "gone", False, None)
    for token in (kept, revoked, account.token):
        assert accounts.authenticate(token).user_id == account.user.id
    accounts.revoke(account.caller, gone.id)
    unseen = credentials.issue_access_token(account.user.id, credentials.signing_key(settings), 60)

    accounts._engine = create_db_engine("postgresql://postgres@127.0.0.1:1/postgres")  # away
    assert accounts.authenticate(kept) == Caller(account.user.id, False, read_only=True)
    assert accounts.authenticate(account.token) == account.caller
    for token in (revoked, unseen):
        with pytest.raises(OperationalError):
            accounts.authenticate(token)


def test_a_token_found_valid_stands_for_a_few_seconds_without_the_database(
    make_runtime: Callable[..., Runtime],
    account: Account,
    db: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What another API process changes (a token revoked, or expired by hand) holds here within
    FRESH_SECONDS; a token's own expiry (an API token's or a log-in JWT's) and a revocation
    here hold at once."""
    clock = [1000.0]
    monkeypatch.setattr(users, "monotonic", lambda: clock[0])
    accounts = make_runtime().accounts
    _, elsewhere = accounts.create_token(account.caller, "elsewhere", False, None)
    here, revoked_here = accounts.create_token(account.caller, "here", False, None)
    _, expiring = accounts.create_token(account.caller, "expiring", True, 1)
    key = credentials.signing_key(settings)
    short_jwt = credentials.issue_access_token(account.user.id, key, ttl_seconds=1)
    for token in (elsewhere, revoked_here, expiring, short_jwt, account.token):
        assert accounts.authenticate(token).user_id == account.user.id
    with db.begin() as conn:
        conn.execute(text("DELETE FROM api_tokens WHERE name = 'elsewhere'"))
    accounts.revoke(account.caller, here.id)
    time.sleep(1.0)  # `expiring` has expired (the monotonic clock stands still)

    clock[0] += users.FRESH_SECONDS - 0.1
    assert accounts.fresh_caller(elsewhere) == account.caller
    assert accounts.authenticate(elsewhere) == account.caller
    assert accounts.fresh_caller(revoked_here) is None
    assert accounts.fresh_caller(short_jwt) is None
    assert accounts.fresh_caller(account.token) == account.caller
    for token in (revoked_here, expiring, short_jwt):
        with pytest.raises(Unauthorized):
            accounts.authenticate(token)

    clock[0] += 0.1
    assert accounts.fresh_caller(elsewhere) is None
    with pytest.raises(Unauthorized, match="unknown, revoked or expired"):
        accounts.authenticate(elsewhere)
    assert accounts.authenticate(account.token) == account.caller
