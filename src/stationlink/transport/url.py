"""Connection URLs: which transport, which port or address, which line settings.

Contract: :func:`parse_url` turns a URL (or a bare port name) into an :class:`Endpoint`, or
raises ``ConfigError`` naming the offending part. Accepted forms::

    tcp://HOST:PORT[?connect_timeout=5]      plain TCP, length-prefixed frames, no ACK/NAK
    serial:///dev/ttyUSB0[?baud=9600&bytesize=8&parity=N&stopbits=1]
    serial://COM3[?baud=...]                 a local serial port with explicit settings
    /dev/ttyUSB0, COM3                       a local serial port (baud from ``baudrate=``)
    loop://, socket://HOST:PORT, rfc2217://HOST:PORT, spy://..., alt://..., hwgrep://...
                                             any pyserial URL, passed to serial_for_url as-is

Everything except ``tcp://`` uses the *serial* framing (STX..ETX, check value, ACK/NAK),
including ``socket://`` (a serial device server reached over the network).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from ..protocol import Transport

PYSERIAL_SCHEMES = frozenset({"loop", "socket", "rfc2217", "spy", "alt", "hwgrep", "cp2110"})
DEFAULT_BAUD = 9600


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect. ``target`` is a pyserial port/URL or ``host:port`` for TCP."""

    kind: Transport
    target: str
    host: str = ""
    port: int = 0
    baudrate: int = DEFAULT_BAUD
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    connect_timeout: float = 5.0

    @property
    def bits_per_byte(self) -> int:
        """Start bit + data bits + parity bit + stop bits (rounded up)."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + int(self.stopbits + 0.5)

    @property
    def byte_time(self) -> float:
        """Seconds one byte takes on the wire (0 for TCP)."""
        return 0.0 if self.kind is Transport.TCP else self.bits_per_byte / self.baudrate


def _one(query: dict[str, list[str]], key: str, url: str) -> str | None:
    values = query.pop(key, None)
    if values is None:
        return None
    if len(values) != 1:
        raise ConfigError(f"{url}: option {key!r} given {len(values)} times")
    return values[0]


def _number(text: str | None, key: str, url: str, kind: type[int] | type[float]) -> float | None:
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{url}: option {key}={text!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{url}: option {key}={text!r} must be positive")
    return value


def parse_url(url: str, *, baudrate: int = DEFAULT_BAUD) -> Endpoint:
    """Parse a connection URL (see the module docstring)."""
    if not url or url != url.strip():
        raise ConfigError(f"connection URL {url!r} is empty or has surrounding spaces")
    split = urlsplit(url)
    scheme = split.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, e.g. C:\\..., is not a scheme
        scheme = ""
    if scheme == "tcp":
        query = parse_qs(split.query, keep_blank_values=True)
        timeout = _number(_one(query, "connect_timeout", url), "connect_timeout", url, float)
        if query:
            raise ConfigError(f"{url}: unknown option(s) {', '.join(sorted(query))}")
        try:
            host, port = split.hostname, split.port
        except ValueError as exc:
            raise ConfigError(f"{url}: bad port: {exc}") from None
        if not host or port is None:
            raise ConfigError(f"{url}: a tcp URL needs tcp://HOST:PORT")
        return Endpoint(
            Transport.TCP, f"{host}:{port}", host, port,
            connect_timeout=5.0 if timeout is None else timeout,
        )
    if scheme == "serial":
        target = split.netloc + split.path
        if not target:
            raise ConfigError(f"{url}: a serial URL needs a port, e.g. serial:///dev/ttyUSB0")
        query = parse_qs(split.query, keep_blank_values=True)
        baud = _number(_one(query, "baud", url), "baud", url, int)
        size = _number(_one(query, "bytesize", url), "bytesize", url, int)
        parity = (_one(query, "parity", url) or "N").upper()
        stop = _number(_one(query, "stopbits", url), "stopbits", url, float)
        if query:
            raise ConfigError(f"{url}: unknown option(s) {', '.join(sorted(query))}")
        if parity not in ("N", "E", "O", "M", "S"):
            raise ConfigError(f"{url}: parity must be one of N, E, O, M, S, not {parity!r}")
        if size is not None and size not in (5, 6, 7, 8):
            raise ConfigError(f"{url}: bytesize must be 5..8")
        if stop is not None and stop not in (1, 1.5, 2):
            raise ConfigError(f"{url}: stopbits must be 1, 1.5 or 2")
        return Endpoint(
            Transport.SERIAL, target,
            baudrate=int(baud) if baud is not None else baudrate,
            bytesize=int(size) if size is not None else 8,
            parity=parity, stopbits=stop if stop is not None else 1,
        )
    if scheme and scheme not in PYSERIAL_SCHEMES:
        raise ConfigError(
            f"{url}: unknown scheme {scheme!r}; use tcp://, serial://, a port name or a "
            "pyserial URL (loop://, socket://, rfc2217://)"
        )
    return Endpoint(Transport.SERIAL, url, baudrate=baudrate)
