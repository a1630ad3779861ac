"""Captured sessions: record a host-terminal link, replay the terminal side to a host.

Contract: the ``stationlink-capture`` JSON-lines format itself (reader and writer) lives in
the SDK, :mod:`stationlink.capture`; here: :mod:`.redact` (card numbers redacted at capture
time), :mod:`.writer` (dialect sniffing, redaction, line order), :mod:`.recorder` (the
SDK's byte forwarder, :class:`stationlink.monitor.tap.Tap`, wired to the writer),
:mod:`.hostend` (the replayer's host end and thread), :mod:`.script` and :mod:`.engine` (the
sans-I/O replay), :mod:`.replayer` (its I/O runner), :mod:`.report` (divergences and
results), :mod:`.hostplay` (host scenarios of the captured sessions).
``docs/simulator.md`` ("Capture and replay") is the user's reference.
"""
