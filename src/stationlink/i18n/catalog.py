"""Building the message catalogues with Babel: extract, update, compile (a developer's tool).

Contract: :func:`extract` collects every message id the package uses: ``_("...")`` /
``ngettext`` / ``N_`` calls in Python under ``src/stationlink``, ``{% trans %}`` and ``_()`` in
Jinja2 templates (``*.html``, ``*.j2``), and the ``label`` of every count and item of the
built-in policies (``policies/*.toml``), which people read in statements, with the SMS
labels and the ``[notice]`` template, part format and separator. :func:`update`
merges that template into ``locale/<lang>/LC_MESSAGES/stationlink.po`` (new ids empty, removed
ids dropped, translations kept); :func:`compile_mo` writes the ``.mo`` beside it.
:func:`untranslated` and :func:`mo_matches_po` are what the tests check. ``tools/i18n.py`` is
the command line over these.
"""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from . import DOMAIN, LOCALE_DIR, written_in

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SIMULATOR_DIR = PACKAGE_DIR.parents[1] / "simulator" / "stationlink_sim"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHOD_MAP = [
    ("**/i18n/**.py", "ignore"),
    ("**.py", "python"),
    ("**.html", "jinja2.ext:babel_extract"),
    ("**.j2", "jinja2.ext:babel_extract"),
    ("policies/**.toml", "stationlink.i18n.catalog:extract_policy_labels"),
]


#: Keys of a policy file whose string values are text for people.
_POLICY_TEXT_KEYS = frozenset({"label", "sms", "template", "part", "separator"})


def extract_policy_labels(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                          options: Any) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method: the strings of a policy TOML file that people read."""
    raw = fileobj.read()
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    lines = text.splitlines()

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _POLICY_TEXT_KEYS and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for label in walk(tomllib.loads(text)):
        lineno = next((n for n, line in enumerate(lines, 1) if f'"{label}"' in line), 0)
        # i18n: a policy's text; keep the {placeholders} as they are
        yield lineno, "", label, ["policy label"]


def extract(package_dir: Path = PACKAGE_DIR) -> Catalog:
    """The template catalogue (.pot) of every message id in the package (and, in a source
    checkout, in the simulator ``simulator/stationlink_sim`` beside it, whose ``demo`` summary
    people read through the same catalogue)."""
    catalog = Catalog(project=DOMAIN, fuzzy=False)
    dirs = [package_dir]
    if package_dir == PACKAGE_DIR and SIMULATOR_DIR.is_dir():
        dirs.append(SIMULATOR_DIR)
    for directory in dirs:
        for filename, lineno, message, comments, context in extract_from_dir(
                directory, METHOD_MAP, keywords=KEYWORDS, comment_tags=("i18n:",),
                options_map={"**.html": {"extensions": "jinja2.ext.i18n"},
                             "**.j2": {"extensions": "jinja2.ext.i18n"}}):
            catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                        context=context)
    return catalog


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def _po_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    # files without line numbers, so that editing code elsewhere does not churn the catalogues
    write_po(buf, catalog, width=100, omit_header=False, sort_output=True,
             include_previous=False, include_lineno=False)
    return buf.getvalue()


def update(lang: str, template: Catalog | None = None) -> Catalog:
    """Merge the extracted ids into ``lang``'s .po (created when missing) and write it."""
    template = template or extract()
    path = po_path(lang)
    if path.exists():
        catalog = read_catalog(lang)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=lang, project=DOMAIN, fuzzy=False)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    path.write_bytes(_po_bytes(catalog))
    return catalog


def mo_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compile_mo(lang: str) -> Path:
    """Compile ``lang``'s .po into the .mo beside it."""
    out = po_path(lang).with_suffix(".mo")
    out.write_bytes(mo_bytes(read_catalog(lang)))
    return out


def untranslated(lang: str, template: Catalog | None = None) -> list[str]:
    """Message ids used by the package, written in the other language, that ``lang``'s .po
    lacks or leaves empty/fuzzy."""
    template = template or extract()
    catalog = read_catalog(lang)
    missing = []
    for message in template:
        first = message.id if isinstance(message.id, str) else message.id[0]
        if not first or written_in(first) in (lang, None):
            continue
        found = catalog.get(message.id, message.context)
        if found is None or not found.string or found.fuzzy:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return sorted(missing)


def mo_matches_po(lang: str) -> bool:
    """Whether the shipped .mo holds exactly the translations of the .po."""
    with po_path(lang).with_suffix(".mo").open("rb") as f:
        shipped = read_mo(f)
    compiled = read_mo(io.BytesIO(mo_bytes(read_catalog(lang))))
    return _strings(shipped) == _strings(compiled)


def _strings(catalog: Catalog) -> dict[tuple[Any, Any], Any]:
    return {(m.id, m.context): m.string for m in catalog if m.id}
