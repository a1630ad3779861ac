"""The conformance catalogue: every case the kit runs, and every people-facing word of it.

Contract:
- :data:`CASES` lists the cases in the order the kit runs them (CF-JOURNAL-POWER last: a
  power cycle must not disturb the cases after it). A :class:`CaseSpec` has a
  stable id (``CF-...``, never reused for another check), the section of docs/protocol.md it
  checks, a one-line purpose in Chinese and English, what it applies to (terminal kinds and
  transports; every case applies to both dialects) and whether it moves money (``money``:
  runs only with ``--allow-money``, 1 fen, reversed afterwards where the protocol allows).
- ``needs_power_cycle``: the case needs a way to power-cycle the device (the kit's
  ``--power-cycle-cmd``); without one it is not applicable.
- :func:`spec` finds a case by id (``KeyError`` for an unknown id); :func:`markdown_table`
  is the table docs/conformance.md carries (a test checks that the doc matches it).
- :data:`LABELS` holds the report's words (verdicts, headings) in ``zh`` and ``en``, looked up
  with :func:`label` (the diagnosis's :data:`~stationlink.diag.catalogue.Lang`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diag.catalogue import Lang
from ..protocol import Transport

KINDS = ("bill", "card")
BOTH = (Transport.SERIAL, Transport.TCP)


@dataclass(frozen=True)
class CaseSpec:
    id: str
    section: str  # docs/protocol.md section, e.g. "1.1"
    purpose_zh: str
    purpose_en: str
    kinds: tuple[str, ...] = KINDS
    transports: tuple[Transport, ...] = BOTH
    money: bool = False
    needs_power_cycle: bool = False

    def purpose(self, lang: Lang) -> str:
        return self.purpose_zh if lang == "zh" else self.purpose_en

    def applies_to(self) -> str:
        """Applicability in words (English, for the catalogue table and ``--list``)."""
        kinds = "both kinds" if self.kinds == KINDS else f"{'/'.join(self.kinds)} only"
        transports = ("serial and TCP" if self.transports == BOTH
                      else f"{'/'.join(t.value for t in self.transports)} only")
        out = f"{kinds}, {transports}, both dialects"
        if self.needs_power_cycle:
            out += ", needs --power-cycle-cmd"
        return out


SERIAL = (Transport.SERIAL,)
TCP = (Transport.TCP,)

CASES: tuple[CaseSpec, ...] = (
    CaseSpec("CF-FRAME-SERIAL", "1.1", "串口帧格式与校验：帧有效、校验值正确、字节序正确",
             "framing and checksum on serial: valid frames, correct check value, byte order",
             transports=SERIAL),
    CaseSpec("CF-FRAME-TCP", "1.2", "TCP 帧格式：按协议的长度前缀与帧布局",
             "framing on TCP: length prefix and frame layout of the dialect", transports=TCP),
    CaseSpec("CF-ACK-TIMER", "2.1", "终端在 T1 内确认（ACK）有效帧",
             "the device ACKs a valid frame within T1", transports=SERIAL),
    CaseSpec("CF-RETRANS", "2.1", "主机不确认时，终端按规定次数和间隔重发，然后放弃",
             "without the host's ACK the device retransmits the documented number of times at "
             "the documented spacing, then gives up", transports=SERIAL),
    CaseSpec("CF-NAK-BADSUM", "1.3", "校验错误的帧得到 NAK，且不被执行",
             "a frame with a bad check value is NAKed and not acted on", transports=SERIAL),
    CaseSpec("CF-GARBAGE", "1.3", "收到乱码不应答、状态不变（TCP：立即关闭连接）",
             "silence on garbage: no reply, no state change (TCP: the connection closed)"),
    CaseSpec("CF-OTHER-DIALECT", "2.5", "收到另一种协议的帧不应答",
             "silence on a frame of the other dialect"),
    CaseSpec("CF-RESYNC", "1.3",
             "截断帧之后重新同步：接收空闲超时后，同一线路上的下一个有效请求得到应答",
             "resynchronisation after a truncated frame: after the receive-idle time the next "
             "valid request on the same line is answered", transports=SERIAL),
    CaseSpec("CF-DUPLICATE", "2.1", "重复请求（同序号同内容）再次应答，但不产生第二笔交易",
             "a duplicate request (same seq and client_ref) is answered again without a second "
             "effect", money=True),
    CaseSpec("CF-SEQ-WRAP", "4", "应答带请求的序号，包括序号回绕时",
             "answers carry the request's sequence number, also across the wrap"),
    CaseSpec("CF-HEARTBEAT", "2.2", "心跳：空闲连接保持打开，主机的心跳 ECHO 在 T2 内应答",
             "heartbeats: an idle connection is kept open and the host's heartbeat ECHOs on it "
             "are answered within T2", transports=TCP),
    CaseSpec("CF-STATUS-LOST", "2.4", "应答丢失后查询状态：终端只报告一笔，绝不执行两次",
             "status query after a lost response: the payment is reported once and never "
             "performed twice", money=True),
    CaseSpec("CF-JOURNAL-PAGE", "3.2", "流水分页：页、游标、上限正确，记录不重不漏",
             "journal paging: pages, cursors and limits, no record twice or missing"),
    CaseSpec("CF-SETTLEMENT", "5", "结算汇总等于流水（按类型和产品：成功减冲正）",
             "settlement totals equal the journal (approved minus reversed per kind and "
             "product)"),
    CaseSpec("CF-DEVICE-STATUS", "5", "设备状态字段齐全且在范围内",
             "device status fields present and in range"),
    CaseSpec("CF-CARD-MASK", "4.2", "声称屏蔽卡号的固件从不发送完整卡号",
             "card numbers never sent in full by firmware that claims masking",
             kinds=("card",)),
    CaseSpec("CF-MAX-FRAME", "1.1", "最大帧长：正好最大的请求得到应答，超长的按规定拒绝",
             "maximum frame length: a request at the maximum is answered, one over is refused "
             "as the spec says"),
    CaseSpec("CF-CLOCK", "4.1", "时钟与日期字段有效（带时区、合理、各消息一致）",
             "clock and date fields valid: aware, plausible, consistent across messages"),
    CaseSpec("CF-JOURNAL-POWER", "3.2", "断电重启后流水游标保持不变、继续递增",
             "the journal cursors after a power cycle: kept, and new records above them",
             needs_power_cycle=True),
)

_BY_ID = {c.id: c for c in CASES}


def spec(case_id: str) -> CaseSpec:
    return _BY_ID[case_id]


def markdown_table() -> str:
    """The catalogue as the Markdown table of docs/conformance.md."""
    rows = ["| id | protocol.md | checks | applies to | money |", "|---|---|---|---|---|"]
    for c in CASES:
        rows.append(f"| `{c.id}` | §{c.section} | {c.purpose_en} | {c.applies_to()} | "
                    f"{'yes' if c.money else ''} |")
    return "\n".join(rows)


LABELS: dict[str, dict[str, str]] = {
    "title": {"zh": "stationlink 一致性测试报告", "en": "stationlink conformance report"},
    "verdict.pass": {"zh": "通过", "en": "pass"},
    "verdict.fail": {"zh": "不通过", "en": "fail"},
    "verdict.not_applicable": {"zh": "不适用", "en": "not applicable"},
    "overall.0": {"zh": "全部适用的用例通过", "en": "every applicable case passed"},
    "overall.1": {"zh": "有用例不通过", "en": "a case failed"},
    "overall.3": {"zh": "无法连接终端", "en": "could not connect to the device"},
    "device": {"zh": "被测设备", "en": "device under test"},
    "cases": {"zh": "用例", "en": "cases"},
    "evidence": {"zh": "收发字节（十六进制）", "en": "bytes exchanged (hex)"},
    "money": {"zh": "资金操作", "en": "money"},
    "unreversed": {"zh": "未能冲正的交易", "en": "transactions not reversed"},
    "reversed": {"zh": "已冲正的测试交易", "en": "test transactions reversed"},
    "na.money": {"zh": "需要 --allow-money", "en": "needs --allow-money"},
    "na.power": {"zh": "需要 --power-cycle-cmd", "en": "needs --power-cycle-cmd"},
    "na.kind": {"zh": "不适用于此类终端", "en": "not for this kind of terminal"},
    "na.transport": {"zh": "不适用于此传输方式", "en": "not for this transport"},
    "na.masking": {"zh": "固件未声称屏蔽卡号（mispos-1 按设计发送完整卡号，§4.2）",
                   "en": "the firmware does not claim masking (mispos-1 sends the full number "
                         "by design, §4.2)"},
    "na.only": {"zh": "未选中（--only）", "en": "not selected (--only)"},
    "na.unreachable": {"zh": "无法连接终端", "en": "could not connect to the device"},
}


def label(key: str, lang: Lang) -> str:
    return LABELS[key][lang]
