"""The sync agent's configuration: ``agent.toml`` into an :class:`AgentConfig`.

Contract:
- :func:`load_config` reads one TOML file (reference and example: ``docs/agent.md``);
  every problem raises :class:`~stationlink.errors.ConfigError` naming the file and the key
  (``agent.toml: terminals[2].url: ...``); unknown keys are refused so a typo never passes
  silently. Relative paths (``data_dir``, ``token_file``, ``card_key_file``, ``ca_file``)
  are relative to the file.
- ``[hub] url``: ``https://`` (verified against the system's CAs, or ``ca_file``), or plain
  ``http://`` to a loopback host (``localhost``, 127.0.0.0/8, ``::1``); plain ``http://`` to
  any other host is refused unless ``allow_insecure_http = true``.
- :func:`parse_config` does the same for an already-parsed mapping (tests, embedding).
- Durations are seconds (TOML integer or float); they are durations, not money.
- The data directory defaults to the platform's user data dir (``platformdirs``), so the
  same file works on Windows and Linux; nothing here is POSIX-only.
- :func:`card_key_from_hex` is the one rule for a configured card-token key (hex, at least
  16 bytes); the simulator's station files use it too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from ..errors import ConfigError
from ..tomlfile import read_toml_file

_TOP = {"station_id", "data_dir", "card_key", "card_key_file", "hub", "poll", "upload",
        "terminals"}
_HUB = {"url", "token", "token_file", "timeout", "ca_file", "allow_insecure_http"}
_POLL = {"journal_interval", "device_status_interval", "settlement_check_at",
         "unknown_grace", "reconnect_base", "reconnect_cap", "page_limit"}
_UPLOAD = {"interval", "batch_size", "backoff_base", "backoff_cap", "status_interval"}
_TERMINAL = {"url", "id", "dialect", "baudrate"}


@dataclass(frozen=True)
class TerminalEntry:
    """One terminal the agent polls: a connection URL; dialect and id are detected."""

    url: str
    terminal_id: str | None = None  # when given, the identified terminal must match
    dialect: str | None = None  # None: detected at connect
    baudrate: int = 9600
    where: str = "terminals[1]"


@dataclass(frozen=True)
class PollSettings:
    journal_interval: float = 2.0  # seconds between journal reads of one terminal
    device_status_interval: float = 300.0
    settlement_check_at: time = time(23, 45)  # CST time of day of the daily comparison
    unknown_grace: float = 60.0  # seconds before an unknown outcome is asked about
    reconnect_base: float = 1.0  # backoff of reconnects to an unplugged terminal
    reconnect_cap: float = 60.0
    page_limit: int = 6  # worst-case records fit one 1024-byte body (166 bytes each)


@dataclass(frozen=True)
class UploadSettings:
    interval: float = 1.0  # seconds between upload rounds when idle
    batch_size: int = 500
    backoff_base: float = 0.5
    backoff_cap: float = 60.0
    status_interval: float = 60.0  # agent-status and device-status reports to the hub


@dataclass(frozen=True)
class AgentConfig:
    station_id: str
    hub_url: str
    hub_token: str
    card_key: bytes
    terminals: tuple[TerminalEntry, ...]
    data_dir: Path
    hub_timeout: float = 30.0
    hub_ca_file: Path | None = None  # CA bundle for an https:// hub (None: the system's CAs)
    allow_insecure_http: bool = False  # plain http:// to a host that is not this machine
    poll: PollSettings = field(default_factory=PollSettings)
    upload: UploadSettings = field(default_factory=UploadSettings)
    source: str = "agent.toml"

    @property
    def buffer_path(self) -> Path:
        return self.data_dir / "buffer.sqlite"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "agent-state.sqlite"


def default_data_dir() -> Path:
    """The platform's per-user data directory of stationlink (the buffer's default home)."""
    return Path(platformdirs.user_data_dir("stationlink", appauthor=False))


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate ``agent.toml`` (module contract)."""
    p = Path(path)
    return parse_config(read_toml_file(p), source=str(p), base=p.parent)


class _Table:
    """Typed access to one TOML table with error messages naming file and key."""

    def __init__(self, data: Any, where: str, allowed: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        self.data = data
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if not self.where.endswith(":") else f"{self.where} {key}"

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if key not in self.data:
            if required:
                raise ConfigError(f"{self._name(key)}: missing")
            return default
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self._name(key)}: expected a non-empty string, not {value!r}")
        return value.strip()

    def flag(self, key: str, default: bool) -> bool:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            raise ConfigError(f"{self._name(key)}: expected true or false, not {value!r}")
        return value

    def seconds(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self._name(key)}: expected a number of seconds, not {value!r}")
        if value < minimum:
            raise ConfigError(f"{self._name(key)}: must be >= {minimum}, not {value}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self._name(key)}: expected an integer, not {value!r}")
        if not minimum <= value <= maximum:
            raise ConfigError(f"{self._name(key)}: must be {minimum}..{maximum}, not {value}")
        return value


def _read_secret(path_text: str, base: Path, where: str) -> str:
    p = Path(path_text)
    p = p if p.is_absolute() else base / p
    try:
        value = p.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {p}: {exc}") from exc
    if not value:
        raise ConfigError(f"{where}: {p} is empty")
    return value


def _one_of(t: _Table, inline: str, from_file: str, base: Path) -> str:
    a, b = t.text(inline), t.text(from_file)
    if (a is None) == (b is None):
        raise ConfigError(f"{t.where}: give exactly one of {inline} or {from_file}")
    return a if a is not None else _read_secret(b or "", base, t._name(from_file))


def _time_of_day(text: str, where: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(f"{where}: expected HH:MM (CST), not {text!r}") from None


def card_key_from_hex(text: str, where: str) -> bytes:
    """A card-token key given in hex: at least 16 bytes; ConfigError ``"<where>: ..."``."""
    try:
        card_key = bytes.fromhex(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: not hexadecimal: {exc}") from exc
    if len(card_key) < 16:
        raise ConfigError(f"{where}: at least 16 bytes (32 hex digits) are needed")
    return card_key


def parse_config(data: Mapping[str, Any], *, source: str, base: Path) -> AgentConfig:
    """Validate a parsed ``agent.toml`` mapping (module contract)."""
    top = _Table(data, f"{source}:", _TOP)
    station_id = top.text("station_id", required=True) or ""
    card_key = card_key_from_hex(_one_of(top, "card_key", "card_key_file", base),
                                 f"{source}: card_key")
    data_dir_text = top.text("data_dir")
    data_dir = default_data_dir() if data_dir_text is None else Path(data_dir_text)
    if not data_dir.is_absolute():
        data_dir = base / data_dir

    if "hub" not in data:
        raise ConfigError(f"{source}: missing table [hub]")
    hub = _Table(data["hub"], f"{source}: hub", _HUB)
    url = hub.text("url", required=True) or ""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: hub.url: expected http(s)://HOST:PORT, not {url!r}")
    insecure = hub.flag("allow_insecure_http", False)
    _check_transport(url, insecure, source)
    token = _one_of(hub, "token", "token_file", base)
    timeout = hub.seconds("timeout", 30.0, minimum=0.1)
    ca_text = hub.text("ca_file")
    ca_file = None
    if ca_text is not None:
        ca_file = Path(ca_text) if Path(ca_text).is_absolute() else base / ca_text
        if not ca_file.is_file():
            raise ConfigError(f"{source}: hub.ca_file: no such file {ca_file}")

    poll = _poll(_Table(data.get("poll", {}), f"{source}: poll", _POLL))
    upload = _upload(_Table(data.get("upload", {}), f"{source}: upload", _UPLOAD))

    terms = data.get("terminals")
    if not isinstance(terms, list) or not terms:
        raise ConfigError(f"{source}: terminals: at least one [[terminals]] table is needed")
    entries = tuple(
        _terminal(_Table(t, f"{source}: terminals[{i}]", _TERMINAL), i)
        for i, t in enumerate(terms, start=1)
    )
    urls = [e.url for e in entries]
    dup = sorted({u for u in urls if urls.count(u) > 1})
    if dup:
        raise ConfigError(f"{source}: terminals: url(s) {', '.join(dup)} appear more than once")
    ids = [e.terminal_id for e in entries if e.terminal_id]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{source}: terminals: id(s) {', '.join(dup)} appear more than once")
    return AgentConfig(station_id, url.rstrip("/"), token, card_key, entries, data_dir,
                       timeout, ca_file, insecure, poll, upload, source)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_transport(url: str, insecure: bool, source: str) -> None:
    """Plain ``http://`` only to this machine, unless ``allow_insecure_http = true``."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"{source}: hub.url: no host in {url!r}")
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{source}: hub.url: plain http:// to {parts.hostname}, which is not this "
            "machine, would send the token and every transaction unencrypted; use https:// "
            "(docs/hub.md, TLS) or, on a network you trust, set allow_insecure_http = true "
            "in [hub]")


def _poll(t: _Table) -> PollSettings:
    d = PollSettings()
    at_text = t.text("settlement_check_at")
    at = d.settlement_check_at if at_text is None else _time_of_day(
        at_text, t._name("settlement_check_at"))
    base = t.seconds("reconnect_base", d.reconnect_base, minimum=0.01)
    cap = t.seconds("reconnect_cap", d.reconnect_cap, minimum=base)
    return PollSettings(
        journal_interval=t.seconds("journal_interval", d.journal_interval, minimum=0.01),
        device_status_interval=t.seconds("device_status_interval", d.device_status_interval,
                                         minimum=0.01),
        settlement_check_at=at,
        unknown_grace=t.seconds("unknown_grace", d.unknown_grace),
        reconnect_base=base,
        reconnect_cap=cap,
        page_limit=t.integer("page_limit", d.page_limit, minimum=1, maximum=1000),
    )


def _upload(t: _Table) -> UploadSettings:
    d = UploadSettings()
    base = t.seconds("backoff_base", d.backoff_base, minimum=0.01)
    return UploadSettings(
        interval=t.seconds("interval", d.interval, minimum=0.01),
        batch_size=t.integer("batch_size", d.batch_size, minimum=1, maximum=10_000),
        backoff_base=base,
        backoff_cap=t.seconds("backoff_cap", d.backoff_cap, minimum=base),
        status_interval=t.seconds("status_interval", d.status_interval, minimum=0.01),
    )


def _terminal(t: _Table, index: int) -> TerminalEntry:
    url = t.text("url", required=True) or ""
    dialect = t.text("dialect")
    if dialect is not None and dialect not in ("sl-2", "mispos-1"):
        raise ConfigError(f"{t._name('dialect')}: must be 'sl-2' or 'mispos-1', not {dialect!r}")
    terminal_id = t.text("id")
    if terminal_id is not None and len(terminal_id) != 8:
        raise ConfigError(f"{t._name('id')}: a terminal id has 8 characters: {terminal_id!r}")
    baud = t.integer("baudrate", 9600, minimum=1, maximum=10_000_000)
    return TerminalEntry(url, terminal_id, dialect, baud, f"terminals[{index}]")
