"""Reading a TOML configuration file, with errors that name the file.

Contract: :func:`read_toml_file` returns the parsed document of a UTF-8 TOML file. A file
that cannot be read, is not UTF-8 or is not valid TOML raises
:class:`~stationlink.errors.ConfigError` ``"<path>: cannot read: ..."``, ``"<path>: not
UTF-8 (byte N)"`` (N the offset of the first bad byte) or ``"<path>: not valid TOML: ..."``
(tomllib's message, with line and column). Used by the sync agent's ``agent.toml`` and the
simulator's station files; key checking is the caller's business.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError


def read_toml_file(path: str | Path) -> dict[str, Any]:
    """The parsed TOML document at ``path`` (see module contract)."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
