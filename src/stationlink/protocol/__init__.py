"""stationlink.protocol: the sans-I/O protocol core (both host and terminal roles).

Imports no serial, socket, asyncio, threading or sqlite: bytes in, events out; events in,
bytes out; timers are driven by an injected clock. See ``docs/protocol.md``.
"""
