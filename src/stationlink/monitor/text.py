"""The people-facing strings of ``stationlink monitor`` and ``stationlink ports``: one catalogue.

Contract: :data:`CATALOGUE` maps a stable message id to its Chinese (``zh``, the default) and
English (``en``) text; :func:`text` looks one up (``str.format`` fields filled from
``**values``). The ids are stable so that the catalogue can be exported to gettext ``.po``
files later (issue 12): never rename an id, add a new one.
"""

from __future__ import annotations

LANGS = ("zh", "en")

CATALOGUE: dict[str, dict[str, str]] = {
    "monitor.dir.h2t": {"zh": "PC→终端", "en": "PC→term"},
    "monitor.dir.t2h": {"zh": "终端→PC", "en": "term→PC"},
    "monitor.kind.garbage": {"zh": "乱码 {n} 字节", "en": "garbage {n} bytes"},
    "monitor.kind.bad_check": {"zh": "校验错误的帧 {n} 字节", "en": "bad-check frame {n} bytes"},
    "monitor.kind.undecodable": {"zh": "无法解码", "en": "undecodable"},
    "monitor.event.open": {"zh": "TCP 连接建立", "en": "TCP connection opened"},
    "monitor.event.close": {"zh": "TCP 连接关闭", "en": "TCP connection closed"},
    "monitor.mark.retransmit": {"zh": "重发", "en": "RETX"},
    "monitor.check.ok": {"zh": "校验✓", "en": "chk✓"},
    "monitor.check.bad": {"zh": "校验✗", "en": "chk✗"},
    "monitor.date": {"zh": "日期 {date}（北京时间）", "en": "date {date} (CST)"},
    "monitor.tap.ready": {
        "zh": "监听中：PC 软件请打开 {host}，终端在 {terminal}。按 Ctrl-C 结束。",
        "en": "tapping: point the PC software at {host}; terminal at {terminal}. "
              "Ctrl-C ends.",
    },
    "monitor.summary": {
        "zh": "共 {frames} 帧，重发 {retransmits}，校验错误 {bad}，乱码 {garbage} 字节",
        "en": "{frames} frames, {retransmits} retransmitted, {bad} bad checks, "
              "{garbage} garbage bytes",
    },
    # the deframer's reasons for skipping bytes (English in the protocol core)
    "monitor.reason.garbage outside a frame": {"zh": "帧外乱码", "en": "garbage outside a frame"},
    "monitor.reason.STX with an impossible length": {
        "zh": "STX 后长度不可能", "en": "STX with an impossible length"},
    "monitor.reason.STX without ETX at the announced length": {
        "zh": "STX 后在声明长度处没有 ETX", "en": "STX without ETX at the announced length"},
    "monitor.reason.STX of an incomplete frame": {
        "zh": "不完整帧的 STX", "en": "STX of an incomplete frame"},
    "monitor.reason.STX of a frame with a bad check value hiding a valid frame": {
        "zh": "校验错误帧中藏有有效帧", "en": "bad-check frame hiding a valid frame"},
    "monitor.reason.incomplete frame at end of stream": {
        "zh": "数据流末尾的不完整帧", "en": "incomplete frame at end of stream"},
    "monitor.reason.length prefix of an incomplete frame": {
        "zh": "不完整帧的长度前缀", "en": "length prefix of an incomplete frame"},
    "monitor.reason.no valid length prefix": {
        "zh": "没有有效的长度前缀（TCP 失步）", "en": "no valid length prefix (TCP out of sync)"},
    "ports.none": {"zh": "没有找到串口。", "en": "no serial ports found."},
    "ports.holder.unknown": {"zh": "未知", "en": "unknown"},
    "ports.holder.free": {"zh": "空闲", "en": "free"},
    "ports.holder.in_use": {"zh": "被占用", "en": "in use"},
    "ports.col.device": {"zh": "设备", "en": "device"},
    "ports.col.description": {"zh": "描述", "en": "description"},
    "ports.col.usb": {"zh": "USB 厂商:产品", "en": "USB vid:pid"},
    "ports.col.serial": {"zh": "序列号", "en": "serial no."},
    "ports.col.holder": {"zh": "占用进程", "en": "held by"},
}


def reason(why: str, lang: str = "zh") -> str:
    """A deframer's skip reason in ``lang`` (the English text itself when not catalogued)."""
    entry = CATALOGUE.get(f"monitor.reason.{why}")
    return why if entry is None else entry[lang]


def text(msg_id: str, lang: str = "zh", **values: object) -> str:
    """The text of ``msg_id`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")
    return CATALOGUE[msg_id][lang].format(**values)


__all__ = ["CATALOGUE", "LANGS", "reason", "text"]
