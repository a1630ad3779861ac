"""``hub.wire.loads`` decodes as its careful path does.

``loads`` first decodes with ``json.loads`` building the objects itself, and accepts that
document only when the objects' sizes add up to the keys counted in the text (so no object
repeated a key) and nothing was refused; any other body is decoded again by the careful path
(an ``object_pairs_hook`` that finds a repeated key, markers for refused values) which names
the spot. On generated bodies (repeated keys, colons, quotes, backslashes and brackets inside
strings, nesting, NaN) the outcome equals the careful path's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stationlink.hub import wire

tricky_text = st.text(st.sampled_from('ab:"\\{}[],é\n'), max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), tricky_text,
                    st.just("NaN-marker"))


def render(value: Any) -> str:
    """JSON text of ``value``, where an object is a list of (key, value) pairs (so a key may
    repeat) and the string ``NaN-marker`` is written as the bare constant ``NaN``."""
    if isinstance(value, tuple) and value and value[0] == "object":
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in value[1]) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if value == "NaN-marker":
        return "NaN"
    return json.dumps(value, ensure_ascii=False)


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(st.sampled_from(["a", "b", "a:b", 'q"', "\\", "{", ""]), inner),
                 max_size=4).map(lambda pairs: ("object", pairs)),
    ),
    max_leaves=12,
)


def careful(body: bytes) -> Any:
    text = body.decode("utf-8")
    depth, _ = wire._structure(body)
    if depth > wire.MAX_DEPTH:
        raise wire.MalformedBatchError("$", "too deep")
    try:
        return wire._decode(text, long_integers=False)
    except ValueError:
        return wire._decode(text, long_integers=True)


def outcome(call: Any, body: bytes) -> Any:
    try:
        return ("ok", call(body))
    except Exception as exc:  # the outcome is compared, whatever it is
        return (type(exc).__name__, getattr(exc, "path", None), str(exc)[:40])


@settings(max_examples=400, deadline=None)
@given(values)
@example(("object", [("a", 1), ("a", 2)]))
@example(("object", [("a:b", ":"), ("b", ("object", [("q\"", "a"), ("q\"", "b")]))]))
@example(["\\\"", ("object", [("\\", "\\\\:")])])
def test_loads_is_the_careful_decoding(value: Any) -> None:
    body = render(value).encode("utf-8")
    fast, slow = outcome(wire.loads, body), outcome(careful, body)
    assert fast == slow
    if fast[0] == "ok":
        assert json.dumps(fast[1], default=str) == json.dumps(slow[1], default=str)


def test_a_repeated_key_is_named_by_its_path() -> None:
    body = b'{"records": [{"seq": 1}, {"seq": 2, "seq": 3}]}'
    with pytest.raises(wire.MalformedBatchError) as info:
        wire.loads(body)
    assert info.value.path == "records[1]"
    assert "repeats the key" in info.value.reason
