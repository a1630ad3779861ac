"""The host's end of the replayer, and the thread it runs in (I/O).

Contract:
- :class:`HostEndThread` is the base of :class:`~.replayer.Replayer`: a daemon thread
  repeating the subclass's ``_step()`` (one ``select`` pass) until
  :meth:`~HostEndThread._halt`; the subclass opens the wake pipe (``_wake_r``, ``_wake_w``)
  whose read end is among the descriptors it waits on, so a stop ends a wait at once. An I/O
  failure (``StationLinkError``, ``OSError``, ``ValueError``) ends the loop, is logged and
  kept in ``error``; ``_raise_error()`` re-raises it as
  :class:`~stationlink.errors.SimulatorError` (``"<what> failed: ..."``).
- The host's end is one of a new pty (``_pty``), a TCP listener (``_listener``) or a serial
  port the host is cabled to (``_host_serial``), opened by the subclass: :attr:`host_url`
  is what the host opens, ``_host_fds()`` what the loop waits on for it (with the wake
  pipe), ``_host_read(fd)`` and ``_host_write(data)`` move bytes whichever end it is (None /
  False: a TCP host closed or is gone, and its connection was dropped), ``_close_host()``
  closes it. A write blocked over :data:`stationlink.monitor.tap.WRITE_TIMEOUT` is a
  failure (the SDK's :func:`~stationlink.monitor.tap.write_all`, the tap's own).
- :class:`SerialSide` is a pyserial port with a descriptor to wait on.
- The recorder is not built on this: it is the SDK's forwarder,
  :class:`stationlink.monitor.tap.Tap`, plus the capture writer (:mod:`.recorder`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

from stationlink.errors import ConfigError, SimulatorError, StationLinkError
from stationlink.monitor.tap import write_all
from stationlink.transport import SerialStream, open_serial, parse_url

from ..ports import PtyPort, TcpPort

log = logging.getLogger("stationlink_sim.capture")


class SerialSide:
    """A serial port opened with pyserial (must have a file descriptor to wait on)."""

    def __init__(self, url: str) -> None:
        endpoint = parse_url(url)
        self.url = url
        self.stream: SerialStream = open_serial(endpoint)
        if self.stream.fd is None:
            self.stream.close()
            raise ConfigError(f"{url}: this port cannot be waited on (no file descriptor)")
        self.fd = self.stream.fd

    def read(self) -> bytes:
        return self.stream.read(0)

    def write(self, data: bytes) -> None:
        self.stream.write(data)

    def close(self) -> None:
        with contextlib.suppress(StationLinkError):
            self.stream.close()


class HostEndThread(threading.Thread):
    """The replayer's thread and host end (see the module docstring)."""

    #: the subclass's name in log lines and errors
    what = "host end"

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.error: BaseException | None = None
        self._stop_flag = threading.Event()
        self._wake_r = self._wake_w = -1
        self._pty: PtyPort | None = None
        self._listener: TcpPort | None = None
        self._host_serial: SerialSide | None = None

    @property
    def host_url(self) -> str:
        """What the host opens: the pty path, the listen address or the serial port."""
        if self._pty is not None:
            return f"serial://{self._pty.path}"
        if self._listener is not None:
            return self._listener.url
        assert self._host_serial is not None  # noqa: S101 - one of the three is set
        return self._host_serial.url

    def _host_fds(self) -> list[int]:
        """The wake pipe and the host end's descriptors, to wait on."""
        fds = [self._wake_r]
        if self._pty is not None:
            fds.append(self._pty.master)
        if self._listener is not None:
            fds += self._listener.read_fds()
        if self._host_serial is not None:
            fds.append(self._host_serial.fd)
        return fds

    def _host_read(self, fd: int) -> bytes | None:
        """What the host end's descriptor ``fd`` gave (``b""``: nothing now); None when a TCP
        host closed its connection, which is then dropped."""
        if self._pty is not None and fd == self._pty.master:
            return self._pty.read(fd)
        if self._host_serial is not None and fd == self._host_serial.fd:
            return self._host_serial.read()
        assert self._listener is not None  # noqa: S101 - the only other descriptor
        data = self._listener.read(fd)
        if data is None:
            self._listener.drop_client()
        return data

    def _host_write(self, data: bytes) -> bool:
        """Write all of ``data`` to the host end (lost when no TCP host is connected); False
        when the TCP host is gone, whose connection is then dropped."""
        if self._pty is not None:
            write_all(self._pty.master, self._pty.write, data)
        elif self._host_serial is not None:
            self._host_serial.write(data)
        elif self._listener is not None and self._listener.client is not None:
            client = self._listener.client
            if not write_all(client.fileno(), self._listener.write, data):
                self._listener.drop_client()
                return False
        return True

    def _close_host(self) -> None:
        for port in (self._pty, self._listener, self._host_serial):
            if port is not None:
                port.close()

    def _step(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            while not self._stop_flag.is_set():
                self._step()
        except (StationLinkError, OSError, ValueError) as exc:
            log.exception("%s stopped", self.what)
            self.error = exc

    def _halt(self, timeout: float) -> None:
        """Stop the loop: wake it and wait for the thread (at most ``timeout`` s)."""
        self._stop_flag.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self.is_alive():
            self.join(timeout)

    def _close_wake(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def _raise_error(self) -> None:
        if self.error is not None:
            raise SimulatorError(f"{self.what} failed: {self.error}") from self.error


__all__ = ["HostEndThread", "SerialSide"]
