"""stationlink.wireshark: the Wireshark dissector shipped with the package (``stationlink.lua``).

Contract: ``stationlink.lua`` is package data; ``stationlink monitor --print-dissector-path``
prints where it is installed; ``docs/monitor.md`` says how to install and use it.
:mod:`.make_tables` writes its GB18030 tables.
"""
