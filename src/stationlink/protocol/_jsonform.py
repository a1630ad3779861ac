"""JSON form of messages: what ``stationlink decode`` prints and the fixtures store.

Contract:
- :func:`to_json` gives a plain JSON object: ``{"message": <class name>, "header": {"msg_type":
  <MsgType name>, "seq", "terminal_id"}, <fields...>, "extra": [{"tag": "DF99", "value": hex}]}``.
  Amounts are integers in fen, times ISO 8601 with offset, enums by value (``ResultCode`` and
  ``ErrorCode`` by lower-case name), bytes as lower-case hex, capabilities as a sorted list,
  a card as ``{"masked", "token"}`` (a :class:`ClearPan` is turned into that with ``card_key``;
  without a key it is refused). Fields appear in constructor order (``message_fields``).
- :func:`from_json` is the inverse: ``from_json(to_json(m)) == m`` for every message with
  ``CardRef`` cards. ``pans`` maps tokens back to full numbers to rebuild ``ClearPan`` cards
  (terminal role, fixtures). Bad input raises :class:`DecodeError` naming the JSON path.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any

from ..errors import DecodeError
from . import messages as m

_BY_NAME: dict[str, type] = {cls.__name__: cls for cls in m.CLASS_OF.values()}
_NAMED_ENUMS = (m.ResultCode, m.ErrorCode)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(m))


def to_json(msg: object, card_key: bytes | None = None) -> dict[str, Any]:
    """The JSON object of a message (or of a nested record, for internal use)."""
    out: dict[str, Any] = {}
    if type(msg).__name__ in _BY_NAME:
        out["message"] = type(msg).__name__
    for f in m.message_fields(type(msg)):
        out[f.name] = _out(getattr(msg, f.name), card_key)
    return out


def _out(v: Any, key: bytes | None) -> Any:
    if isinstance(v, m.Header):
        name = v.msg_type.name if isinstance(v.msg_type, m.MsgType) else int(v.msg_type)
        return {"msg_type": name, "seq": v.seq, "terminal_id": v.terminal_id}
    if isinstance(v, _NAMED_ENUMS):
        return v.name.lower()
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, bool | int | str) or v is None:
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, m.ClearPan):
        if key is None:
            raise ValueError("a ClearPan needs a card key to be shown as masked + token")
        v = v.to_ref(key)
    if isinstance(v, m.CardRef):
        return {"masked": v.masked, "token": v.token}
    if isinstance(v, frozenset):
        return sorted(v)
    if dataclasses.is_dataclass(v):
        return to_json(v, key)
    if isinstance(v, tuple):
        if v and all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[1], bytes) for i in v):
            return [{"tag": f"{t:04X}", "value": raw.hex()} for t, raw in v]  # extra
        return [_out(i, key) for i in v]
    raise TypeError(f"cannot show {type(v).__name__} as JSON")


def from_json(obj: Any, pans: dict[str, str] | None = None) -> m.Message:
    """The message of a JSON object made by :func:`to_json`."""
    if not isinstance(obj, dict) or obj.get("message") not in _BY_NAME:
        raise DecodeError("$.message: not a known message class name")
    return typing.cast(m.Message, _in(_BY_NAME[obj["message"]], obj, "$", pans or {}))


def _in(tp: Any, v: Any, path: str, pans: dict[str, str]) -> Any:
    try:
        return _convert(tp, v, path, pans)
    except DecodeError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DecodeError(f"{path}: {exc}") from None


def _convert(tp: Any, v: Any, path: str, pans: dict[str, str]) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is m.Header:
        code = v["msg_type"]
        msg_type = m.MsgType[code] if isinstance(code, str) else code
        return m.Header(msg_type, _strict(int, v["seq"]), _strict(str, v["terminal_id"]))
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        if m.CardRef in args:
            ref = m.CardRef(_strict(str, v["masked"]), _strict(str, v["token"]))
            return m.ClearPan(pans[ref.token]) if ref.token in pans else ref
        inner = [a for a in args if a is not type(None)]
        return _in(inner[0], v, path, pans)
    if origin is tuple:
        items = _strict(list, v)
        if args == (tuple[int, bytes], ...) or (args and args[0] == tuple[int, bytes]):
            return tuple((int(i["tag"], 16), bytes.fromhex(i["value"])) for i in items)
        if args and args[0] == tuple[str, int]:
            return tuple((_strict(str, i[0]), _strict(int, i[1])) for i in items)
        return tuple(_in(args[0], i, f"{path}[{n}]", pans) for n, i in enumerate(items))
    if origin is frozenset:
        return frozenset(_strict(str, i) for i in _strict(list, v))
    if isinstance(tp, type) and issubclass(tp, _NAMED_ENUMS):
        return tp[_strict(str, v).upper()]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(v)
    if tp is datetime:
        t = datetime.fromisoformat(_strict(str, v))
        if t.tzinfo is None:
            raise ValueError("a time needs an offset")
        return t
    if tp is bytes:
        return bytes.fromhex(_strict(str, v))
    if tp in (int, str, bool):
        return _strict(tp, v)
    if dataclasses.is_dataclass(tp):
        d = _strict(dict, v)
        hints = _hints(tp)  # type: ignore[arg-type]
        names = [f.name for f in dataclasses.fields(tp)]
        unknown = set(d) - set(names) - {"message"}
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)}")
        kwargs = {n: _in(hints[n], d[n], f"{path}.{n}", pans) for n in names if n in d}
        return typing.cast(Any, tp)(**kwargs)
    raise TypeError(f"no JSON form for {tp!r}")


def _strict(tp: type, v: Any) -> Any:
    if type(v) is not tp:
        raise TypeError(f"expected {tp.__name__}, got {type(v).__name__}")
    return v
