"""The session cookie is ``Secure`` whenever the console is reached over HTTPS: served by the
hub itself (``--tls-cert``), or behind a proxy uvicorn trusts (127.0.0.1 by default) that
says ``X-Forwarded-Proto: https``; and the login page renders in headless Chromium."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from console_fixtures import PASSWORD, T0, Clock, ConsoleHub, csrf_field
from hub_fixtures import write_tls_files

from stationlink.hub.console import Role
from stationlink.hub.console.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE


@pytest.fixture
def tls_hub(tmp_path: Path) -> Iterator[tuple[ConsoleHub, Path]]:
    cert_file, key_file, ca_file = write_tls_files(trustme.CA(), tmp_path, "127.0.0.1",
                                                   "localhost")
    hub = ConsoleHub(tmp_path / "hub.sqlite", Clock(T0), tls=(cert_file, key_file))
    hub.add_operator("alice", Role.ADMIN)
    yield hub, ca_file
    hub.close()


def set_cookie(response: httpx.Response, name: str) -> tuple[str, list[str]]:
    """The value and the lower-cased attributes of the Set-Cookie for ``name``."""
    (header,) = [h for h in response.headers.get_list("set-cookie")
                 if h.startswith(name + "=")]
    first, *flags = [f.strip() for f in header.split(";")]
    return first.split("=", 1)[1], [f.lower() for f in flags]


def cookie_flags(response: httpx.Response) -> list[str]:
    (header,) = [h for h in response.headers.get_list("set-cookie")
                 if h.startswith(SESSION_COOKIE + "=")]
    return [f.strip().lower() for f in header.split(";")]


def test_over_tls_the_session_cookie_is_secure(tls_hub: tuple[ConsoleHub, Path]) -> None:
    hub, ca_file = tls_hub
    assert hub.url.startswith("https://")
    with hub.client(verify=ssl.create_default_context(cafile=ca_file)) as client:
        answer = hub.sign_in(client, "alice")
        assert answer.status_code == 303, answer.text
        flags = cookie_flags(answer)
        assert "secure" in flags
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert client.get("/v1/console/whoami").json()["name"] == "alice"


def test_behind_a_trusted_proxy_saying_https_the_cookie_is_secure(tmp_path: Path) -> None:
    hub = ConsoleHub(tmp_path / "hub.sqlite", Clock(T0))
    hub.add_operator("alice", Role.ADMIN)
    https_origin = hub.url.replace("http://", "https://")
    try:
        proxy = {"X-Forwarded-Proto": "https"}
        with hub.client(headers=proxy) as client:
            page = client.get("/console/login")
            assert "secure" in set_cookie(page, LOGIN_CSRF_COOKIE)[1]
            # the proxy speaks HTTPS to the browser; this client reaches the hub over HTTP,
            # so it hands the (Secure) sign-in cookie over itself
            cookie = {"Cookie": f"{LOGIN_CSRF_COOKIE}={set_cookie(page, LOGIN_CSRF_COOKIE)[0]}"}
            form = {"csrf_token": csrf_field(page.text), "name": "alice", "password": PASSWORD}
            # the page's origin is now https://…: an http:// Origin is another origin
            wrong = client.post("/console/login", data=form,
                                headers={"Origin": hub.url, **cookie})
            assert wrong.status_code == 403
            answer = client.post("/console/login", data=form,
                                 headers={"Origin": https_origin, **cookie})
            assert answer.status_code == 303
            assert "secure" in cookie_flags(answer)
        with hub.client() as plain:  # no proxy header: plain HTTP, no Secure flag
            answer = hub.sign_in(plain, "alice")
            assert "secure" not in cookie_flags(answer)
    finally:
        hub.close()


@pytest.mark.slow
def test_the_login_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on this machine")
    hub = ConsoleHub(tmp_path / "hub.sqlite", Clock(T0))
    try:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
             hub.url + "/console/login"],
            capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        hub.close()
    assert "操作员登录" in dom
    assert 'name="csrf_token"' in dom
    assert 'type="password"' in dom
