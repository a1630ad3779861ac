"""Message tables: people-facing texts under stable ids, kept as TOML data beside their code.

Contract:
- A message table is a UTF-8 TOML file whose top-level keys are stable message ids (never
  renamed: scripts read them in JSON output and a later gettext catalogue will carry them).
  :func:`load_texts` reads a table whose every id maps to one string per language of
  :data:`~stationlink.i18n.LANGS` (``zh`` and ``en``); :func:`load_parts` reads one whose ids
  map to named parts (the diagnosis's ``text`` and ``advice``), each such a string per
  language, where an optional part left out stands for empty text in every language.
- A message that lacks a language or a required part, has one not known, or has a value that
  is not a string is refused with a :class:`~stationlink.errors.ConfigError` naming the file
  and the id (a packaging bug: the modules load their tables at import). A file that cannot
  be read or is not TOML is a ConfigError naming the file (:mod:`stationlink.tomlfile`).
- :func:`render` fills one message's ``str.format`` fields from ``values``: a language outside
  LANGS is refused with a ValueError naming the choices, an unknown id or a field missing
  from ``values`` is a KeyError (a bug in the caller).

Used by the station health screen (``agent/health_text.toml``), ``stationlink monitor`` and
``ports`` (``monitor/text.toml``) and ``stationlink diag`` (``diag/findings.toml``,
``diag/labels.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..tomlfile import read_toml_file
from . import LANGS

#: message id -> language -> text
Texts = dict[str, dict[str, str]]
#: message id -> part -> language -> text
Parts = dict[str, dict[str, dict[str, str]]]


def _langs(path: Path, where: str, value: Any) -> dict[str, str]:
    """``value`` as one string per language, or ConfigError naming ``path`` and ``where``."""
    if not isinstance(value, dict) or set(value) != set(LANGS):
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ConfigError(f"{path}: {where} must have exactly the languages {list(LANGS)}, "
                          f"not {got}")
    bad = [lang for lang in LANGS if not isinstance(value[lang], str)]
    if bad:
        raise ConfigError(f"{path}: {where}: the {bad[0]} text is not a string")
    return {lang: value[lang] for lang in LANGS}


def load_texts(path: Path) -> Texts:
    """The table at ``path``: message id -> language -> text (see the module contract)."""
    doc = read_toml_file(path)
    return {msg_id: _langs(path, repr(msg_id), entry) for msg_id, entry in doc.items()}


def load_parts(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Parts:
    """The table at ``path``: message id -> part -> language -> text; every id has the
    ``required`` parts and may have the ``optional`` ones (empty text when left out)."""
    out: Parts = {}
    for msg_id, entry in read_toml_file(path).items():
        parts = entry if isinstance(entry, dict) else {}
        unknown = sorted(set(parts) - {*required, *optional})
        missing = [p for p in required if p not in parts]
        if unknown or missing or not isinstance(entry, dict):
            raise ConfigError(f"{path}: {msg_id!r} must have the parts {list(required)} "
                              f"(and may have {list(optional)}); missing {missing}, "
                              f"unknown {unknown}")
        out[msg_id] = {
            part: (_langs(path, f"{msg_id!r} {part}", parts[part]) if part in parts
                   else dict.fromkeys(LANGS, ""))
            for part in (*required, *optional)
        }
    return out


def render(table: Mapping[str, Mapping[str, str]], msg_id: str, lang: str,
           values: Mapping[str, object]) -> str:
    """Message ``msg_id`` of ``table`` in ``lang`` with ``values`` filled in."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")
    return table[msg_id][lang].format(**values)


__all__ = ["Parts", "Texts", "load_parts", "load_texts", "render"]
