"""Message catalogues: extract the ids with Babel, update the .po files, compile the .mo.

    .venv/bin/python tools/i18n.py update     # extract + merge into every language's .po
    .venv/bin/python tools/i18n.py compile    # .po -> .mo (shipped in the package)
    .venv/bin/python tools/i18n.py check      # exit 1 on an untranslated id or a stale .mo

Between ``update`` and ``compile``, translate the new (empty) entries: English ids in
src/stationlink/i18n/locale/zh/LC_MESSAGES/stationlink.po, Chinese ids (the console's
templates) in src/stationlink/i18n/locale/en/LC_MESSAGES/stationlink.po; an id already in a
catalogue's language stays empty there. The logic lives in ``stationlink.i18n.catalog``.
"""

from __future__ import annotations

import sys

from stationlink.i18n.catalog import compile_mo, extract, mo_matches_po, untranslated, update

#: Languages with a catalogue (each translates the ids written in the other language).
CATALOGUES = ("zh", "en")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command not in ("update", "compile", "check"):
        print(__doc__)
        return 2
    template = extract()
    status = 0
    for lang in CATALOGUES:
        if command == "update":
            update(lang, template)
            print(f"{lang}: {len(untranslated(lang, template))} untranslated")
        elif command == "compile":
            print(f"{lang}: wrote {compile_mo(lang)}")
        else:
            missing = untranslated(lang, template)
            for msgid in missing:
                print(f"{lang}: untranslated: {msgid!r}")
            if not mo_matches_po(lang):
                print(f"{lang}: the .mo is older than the .po: run tools/i18n.py compile")
                status = 1
            status = status or int(bool(missing))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
