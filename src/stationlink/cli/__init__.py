"""The ``stationlink`` command line: a thin click layer over the library.

Each command group lives in its own module and is loaded lazily by
:mod:`stationlink.cli.main`, so ``stationlink --help`` stays fast and a station PC
does not import the hub's web stack to run the agent.
"""
