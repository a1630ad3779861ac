"""stationlink.capture: the ``stationlink-capture`` file format, its one home.

Contract: :mod:`.fileformat` reads (:func:`read_capture` whole, :func:`iter_capture` as a
stream) and writes (:class:`CaptureFile`) the JSON-lines recording of a host-terminal link.
The simulator's recorder and replayer and the monitor use it; ``docs/simulator.md``
("Capture and replay") is the reference of the format.
"""

from __future__ import annotations

from .fileformat import (
    DIRECTIONS,
    EVENTS,
    FORMAT,
    H2T,
    REDACTION,
    T2H,
    VERSION,
    Capture,
    CaptureFile,
    Chunk,
    Header,
    Trailer,
    is_capture,
    iter_capture,
    read_capture,
)

__all__ = [
    "DIRECTIONS", "EVENTS", "FORMAT", "H2T", "REDACTION", "T2H", "VERSION",
    "Capture", "CaptureFile", "Chunk", "Header", "Trailer", "is_capture", "iter_capture",
    "read_capture",
]
