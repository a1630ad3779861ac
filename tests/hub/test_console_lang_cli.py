"""The console's language from the command line: ``hub serve --lang`` (and
``STATIONLINK_LANG``) down to the console of the single process and of every worker
(``--workers N``), ``demo --lang``, and ``hub operator add --lang`` / ``operator set-lang``
on each store."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from console_fixtures import PASSWORD, csrf_field

from stationlink.cli.main import cli
from stationlink.hub import server
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.server import BackgroundServer
from stationlink.hub.stores import migrate_hub, open_hub_store


def run(*args: str, input: str | None = None,  # noqa: A002 - click's name
        env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["hub", *args], input=input, env=env)


# ----------------------------------------------------------------- operators


def test_operator_add_lang_and_set_lang(hub_db: str) -> None:
    db = hub_db
    added = run("operator", "add", "rose", "--role", "viewer", "--lang", "en", "--generate",
                "--db", db)
    assert added.exit_code == 0, added.output
    assert run("operator", "add", "wang", "--role", "viewer", "--generate",
               "--db", db).exit_code == 0

    def listed() -> list[tuple[str, str | None]]:
        out = run("operator", "list", "--json", "--db", db)
        assert out.exit_code == 0, out.output
        return [(o["name"], o["lang"]) for o in json.loads(out.stdout)]

    assert listed() == [("rose", "en"), ("wang", None)]
    assert "lang en" in run("operator", "list", "--db", db).stdout
    changed = run("operator", "set-lang", "wang", "en", "--db", db)
    assert changed.exit_code == 0, changed.output
    assert "operator wang: language en" in changed.output
    assert run("operator", "set-lang", "rose", "default", "--db", db).exit_code == 0
    assert listed() == [("rose", None), ("wang", "en")]
    audit = json.loads(run("audit", "--json", "--db", db).stdout)
    assert [e["action"] for e in audit[:2]] == ["operator.set_lang", "operator.set_lang"]
    rose, wang = audit[0], audit[1]
    assert (rose["target"], rose["before"]["lang"], "lang" in rose["after"]) == \
        ("rose", "en", False)
    assert (wang["target"], "lang" in wang["before"], wang["after"]["lang"]) == \
        ("wang", False, "en")
    assert all(e["actor"].startswith("cli:") for e in audit)
    store = open_hub_store(db)
    try:
        wang_op = console_store_for(store).operator("wang")
        assert wang_op is not None
        assert wang_op.lang == "en"
    finally:
        store.close()


@pytest.mark.parametrize(("args", "message"), [
    (("operator", "set-lang", "nobody", "en"), "no operator 'nobody'"),
    (("operator", "set-lang", "root", "fr"), "'fr' is not one of 'zh', 'en', 'default'"),
    (("operator", "add", "x", "--role", "viewer", "--generate", "--lang", "de"),
     "'de' is not one of 'zh', 'en', 'default'"),
])
def test_operator_lang_refusals_exit_2(hub_db: str, args: tuple[str, ...],
                                       message: str) -> None:
    assert run("operator", "add", "root", "--role", "admin", "--generate",
               "--db", hub_db).exit_code == 0
    before = run("audit", "--json", "--db", hub_db).stdout
    result = run(*args, "--db", hub_db)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert run("audit", "--json", "--db", hub_db).stdout == before


# ----------------------------------------------------------------- hub serve --lang



@pytest.mark.parametrize(("args", "env", "lang"), [
    ((), {}, "zh"),
    (("--lang", "en"), {}, "en"),
    (("--lang", "zh"), {"STATIONLINK_LANG": "en"}, "zh"),
    ((), {"STATIONLINK_LANG": "en"}, "en"),
    (("--lang", "en", "--workers", "3"), {}, "en"),
])
def test_hub_serve_lang_reaches_the_server(served: list[dict[str, Any]], tmp_path: Path,
                                           args: tuple[str, ...], env: dict[str, str],
                                           lang: str) -> None:
    result = run("serve", "--db", str(tmp_path / "h.sqlite"), *args, env=env)
    assert result.exit_code == 0, result.output
    assert [c["lang"] for c in served] == [lang]
    assert served[0]["workers"] == (3 if "--workers" in args else 1)


def test_hub_serve_refuses_an_unknown_language(served: list[dict[str, Any]],
                                               tmp_path: Path) -> None:
    result = run("serve", "--db", str(tmp_path / "h.sqlite"), "--lang", "fr")
    assert result.exit_code == 2
    assert "'fr' is not one of 'zh', 'en'" in result.output
    assert served == []
    help_text = run("serve", "--help").output
    assert "--lang [zh|en]" in help_text
    assert "STATIONLINK_LANG" in help_text


def test_server_serve_checks_the_language_before_binding(tmp_path: Path) -> None:
    from stationlink.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown language 'fr'"):
        server.serve(tmp_path / "h.sqlite", "127.0.0.1:0", close_day=5,
                     on_ready=lambda url: None, lang="fr")
    assert not (tmp_path / "h.sqlite").exists()


def test_a_workers_app_serves_the_console_in_the_servers_language(hub_db: str) -> None:
    """The app factory each spawned worker runs (``--workers N``) takes the language."""
    if not hub_db.startswith("postgresql://"):
        open_hub_store(hub_db).close()  # the worker opens an existing hub
    texts = {}
    for lang in ("en", "zh"):
        app = server._worker_app(hub_db, 5, None, os.getppid(), lang)
        try:
            with BackgroundServer(app) as bg, httpx.Client(base_url=bg.url) as client:
                page = client.get("/console/login")
        finally:
            asyncio.run(_end_lifespan(app))  # the worker's shutdown: closes its store
        assert page.status_code == 200
        texts[lang] = page.text
    assert '<html lang="en">' in texts["en"]
    assert "Sign in" in texts["en"]
    assert '<html lang="zh-CN">' in texts["zh"]
    assert "Sign in" not in texts["zh"]


async def _end_lifespan(app: Any) -> None:
    async with app.router.lifespan_context(app):
        pass


class Served:
    """``stationlink hub serve`` in a subprocess; ``url`` once it listens."""

    def __init__(self, db: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stationlink.cli.main import main; main()",
             "hub", "serve", "--db", db, "--bind", "127.0.0.1:0", *extra],
            stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if k != "STATIONLINK_LANG"})
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if not line.startswith("hub listening on "):
            self.proc.kill()
            pytest.fail(f"hub did not start: {line}{self.proc.stderr.read()}")
        self.url = line.split()[-1]

    def home(self, name: str) -> str:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            token = csrf_field(client.get("/console/login").text)
            answer = client.post("/console/login", headers={"Origin": self.url}, data={
                "csrf_token": token, "name": name, "password": PASSWORD})
            assert answer.status_code == 303, answer.text
            return client.get("/console/").text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        assert code == 0


def _operators(db: str) -> None:
    for name, extra in (("rose", ()), ("fan", ("--lang", "zh"))):
        added = run("operator", "add", name, "--role", "viewer", "--password-stdin", *extra,
                    "--db", db, input=PASSWORD + "\n")
        assert added.exit_code == 0, added.output


@pytest.mark.slow
def test_hub_serve_lang_en_with_an_operator_who_reads_chinese(hub_db: str) -> None:
    """A real 'hub serve --lang en' process, once per store."""
    _operators(hub_db)
    hub = Served(hub_db, "--lang", "en")
    try:
        assert "Hello, rose (viewer)" in hub.home("rose")  # no setting: the server's
        assert "你好" in hub.home("fan")
    finally:
        hub.stop()


@pytest.mark.slow
def test_hub_serve_workers_lang_en(pg_db: str) -> None:
    """'hub serve --workers 2 --lang en': each worker's console is English."""
    migrate_hub(pg_db)
    _operators(pg_db)
    hub = Served(pg_db, "--workers", "2", "--lang", "en")
    try:
        for _ in range(4):  # requests spread over the workers
            assert "Hello, rose (viewer)" in hub.home("rose")
        assert "你好" in hub.home("fan")
    finally:
        hub.stop()


# ----------------------------------------------------------------- demo --lang


def test_demo_lang_reaches_the_served_console(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    from types import SimpleNamespace

    demo_cli = importlib.import_module("stationlink_sim.cli.demo")  # the package's 'demo'
    e2e_demo = importlib.import_module("stationlink_sim.e2e.demo")  # is the command

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server, "serve", lambda db, bind, **kw: calls.append(
        {"db": db, "bind": bind, **kw}))
    monkeypatch.setattr(e2e_demo, "prepare_console", lambda result, now: "one-time")
    fake = SimpleNamespace(month="2014-06", run=SimpleNamespace(files={"hub_db": "hub.db"}))
    monkeypatch.setattr(e2e_demo, "demo_clock", lambda result: lambda: None)
    demo_cli.serve_demo(fake, "127.0.0.1:0", "en")  # type: ignore[arg-type]
    demo_cli.serve_demo(fake, "127.0.0.1:0")  # type: ignore[arg-type]
    assert [(c["db"], c["lang"]) for c in calls] == [("hub.db", "en"), ("hub.db", "zh")]
    refused = CliRunner().invoke(cli, ["demo", "--lang", "fr", "--no-serve"])
    assert refused.exit_code == 2
    assert "'fr' is not one of 'zh', 'en'" in refused.output
