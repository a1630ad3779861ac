"""``python -m stationlink``: the same as the ``stationlink`` command."""

from stationlink.cli.main import main

if __name__ == "__main__":
    main()
