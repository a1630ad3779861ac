"""stationlink.monitor: a passive, decoded trace of a terminal link, and the serial ports.

Contract: nothing here ever sends a byte of its own to a terminal. :mod:`.trace` decodes
what is seen (sans-I/O), :mod:`.render` lays it out for an 80-column terminal,
:mod:`.sources` reads capture files (:mod:`stationlink.capture`) and pcaps (:mod:`.pcap`),
:mod:`.tap` forwards a live link unchanged while tracing it, :mod:`.ports` lists serial
ports and :mod:`.holders` finds which process holds one. People-facing strings are in
:mod:`.text`. ``docs/monitor.md``.
"""

from __future__ import annotations

from .render import Renderer
from .sources import trace_capture, trace_file, trace_pcap
from .trace import TraceItem, Tracer

__all__ = ["Renderer", "TraceItem", "Tracer", "trace_capture", "trace_file", "trace_pcap"]
