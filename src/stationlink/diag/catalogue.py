"""Every people-facing text of ``stationlink diag``, in Chinese and English, in one place.

Contract:
- :data:`FINDINGS` maps a stable finding id (``check.what``, e.g. ``link.corrupt``) to its
  ``text`` (what was found) and ``advice`` (what to do; empty for a good result), each in
  ``zh`` and ``en``, with ``{name}`` placeholders filled from the finding's parameters.
  :data:`LABELS` holds the words of the report and the console (check titles, statuses,
  headings). Ids never change meaning once released: they are the keys scripts read in the
  JSON output and the msgids a later gettext catalogue will carry.
- :func:`text` renders one entry; a placeholder missing from the parameters is a bug and
  raises ``KeyError``. :data:`LANGS` are the languages (``zh`` the default).
- Parameters are already formatted for people (amounts in 元 with two decimals, times in
  CST, durations in words) by :func:`duration` and the checks; nothing here computes.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

#: finding id -> {"text": {lang: ...}, "advice": {lang: ...}}
FINDINGS: dict[str, dict[str, dict[str, str]]] = {
    # ------------------------------------------------------------------ connection
    "connection.found": {
        "text": {"zh": "终端应答（{baud}），协议 {dialect}（{confidence}）",
                 "en": "the terminal answers ({baud}), dialect {dialect} ({confidence})"},
        "advice": {"zh": "", "en": ""},
    },
    "connection.likely": {
        "text": {"zh": "只收到格式像样的回应：可能是 {baud}、协议 {dialect}，但没有完整应答",
                 "en": "only well-framed replies came back: probably {baud}, dialect {dialect}, "
                       "but no complete answer"},
        "advice": {"zh": "请检查串口线，然后再诊断一次",
                   "en": "check the cable, then run the diagnosis again"},
    },
    "connection.baud_mismatch": {
        "text": {"zh": "终端在 {given} 波特不应答，而在 {found} 波特应答",
                 "en": "the terminal does not answer at {given} baud but does at {found} baud"},
        "advice": {"zh": "请把站点软件的波特率改成 {found}（或把终端改回 {given}）",
                   "en": "set the station software to {found} baud (or the terminal back to "
                         "{given})"},
    },
    "connection.dialect_mismatch": {
        "text": {"zh": "终端不说 {given} 协议，说的是 {found}",
                 "en": "the terminal does not speak {given} but {found}"},
        "advice": {"zh": "请在站点软件里把终端协议改成 {found}",
                   "en": "set the terminal's dialect to {found} in the station software"},
    },
    "connection.none": {
        "text": {"zh": "试了 {tried} 种波特率和协议组合，终端都没有应答",
                 "en": "no answer in any of the {tried} baud rate and dialect combinations "
                       "tried"},
        "advice": {"zh": "请检查终端是否开机、串口线是否插好、端口是否选对"
                         "（用 stationlink ports 看）",
                   "en": "check that the terminal is on, the cable is plugged in and the right "
                         "port is used (see stationlink ports)"},
    },
    "connection.open_failed": {
        "text": {"zh": "打不开 {target}：{error}", "en": "cannot open {target}: {error}"},
        "advice": {"zh": "请检查端口名或地址，以及是否有别的程序占用了端口（stationlink ports）",
                   "en": "check the port name or address, and whether another program holds "
                         "the port (stationlink ports)"},
    },
    # ------------------------------------------------------------------ identify
    "identify.ok": {
        "text": {"zh": "{vendor} {model}，序列号 {serial}，固件 {firmware}",
                 "en": "{vendor} {model}, serial {serial}, firmware {firmware}"},
        "advice": {"zh": "", "en": ""},
    },
    "identify.failed": {
        "text": {"zh": "终端不回答身份查询：{error}",
                 "en": "the terminal does not answer IDENTIFY: {error}"},
        "advice": {"zh": "请重启终端后再诊断一次；仍不行请联系厂家",
                   "en": "restart the terminal and run the diagnosis again; if it persists, "
                         "call the vendor"},
    },
    # ------------------------------------------------------------------ device
    "device.ok": {
        "text": {"zh": "打印纸正常，已运行 {uptime}，无错误记录",
                 "en": "paper present, up for {uptime}, no errors recorded"},
        "advice": {"zh": "", "en": ""},
    },
    "device.paper_out": {
        "text": {"zh": "终端打印纸用完了", "en": "the terminal is out of paper"},
        "advice": {"zh": "请装入打印纸", "en": "load paper"},
    },
    "device.errors": {
        "text": {"zh": "终端记录了错误：{counters}",
                 "en": "the terminal recorded errors: {counters}"},
        "advice": {"zh": "线路错误多请检查串口线；其他错误请记下并告诉办公室",
                   "en": "many line errors: check the cable; note any other errors for the "
                         "office"},
    },
    "device.rebooted": {
        "text": {"zh": "诊断期间终端重启了（启动编号 {before} → {after}）",
                 "en": "the terminal restarted during the diagnosis (boot {before} -> "
                       "{after})"},
        "advice": {"zh": "请检查终端电源线和插座：终端可能在断电",
                   "en": "check the terminal's power cable and socket: it may be losing "
                         "power"},
    },
    "device.recent_boot": {
        "text": {"zh": "终端 {uptime} 前刚启动过", "en": "the terminal started only {uptime} ago"},
        "advice": {"zh": "如果没有人重启过它，请检查电源",
                   "en": "if nobody restarted it, check the power supply"},
    },
    "device.failed": {
        "text": {"zh": "终端不回答状态查询：{error}",
                 "en": "the terminal does not answer the status request: {error}"},
        "advice": {"zh": "请重启终端后再诊断一次", "en": "restart the terminal and run the "
                                                 "diagnosis again"},
    },
    # ------------------------------------------------------------------ link
    "link.ok": {
        "text": {"zh": "{exchanges} 次回送全部成功，往返时间中位数 {p50_ms} 毫秒",
                 "en": "all {exchanges} echo exchanges succeeded, median round trip "
                       "{p50_ms} ms"},
        "advice": {"zh": "", "en": ""},
    },
    "link.corrupt": {
        "text": {"zh": "帧校验错误：{bad_frames} 个帧到达时已损坏",
                 "en": "frames arrive with bad checksums: {bad_frames} damaged"},
        "advice": {"zh": "请检查串口线和波特率", "en": "check the cable and the baud rate"},
    },
    "link.noise": {
        "text": {"zh": "线路上有杂波：每千帧 {garbage_per_1000} 个杂乱字节",
                 "en": "noise on the line: {garbage_per_1000} stray bytes per thousand frames"},
        "advice": {"zh": "请换一根串口线，让线远离电源线和电机，检查接地",
                   "en": "try another cable, keep it away from power cables and motors, check "
                         "the earthing"},
    },
    "link.unacked": {
        "text": {"zh": "终端没有确认 {unacked} 个帧（共 {frames} 个），重发了 {retransmissions} 次",
                 "en": "the terminal did not acknowledge {unacked} of {frames} frames; "
                       "{retransmissions} sent again"},
        "advice": {"zh": "请检查串口线（特别是终端的发送线）和终端是否过忙",
                   "en": "check the cable (the terminal's transmit line) and whether the "
                         "terminal is overloaded"},
    },
    "link.slow": {
        "text": {"zh": "终端应答慢：95% 的往返在 {p95_ms} 毫秒内，线路本身只需 {wire_ms} 毫秒",
                 "en": "the terminal answers slowly: 95% of round trips within {p95_ms} ms, "
                       "the line itself needs {wire_ms} ms"},
        "advice": {"zh": "请重启终端；仍慢请联系厂家",
                   "en": "restart the terminal; if it stays slow, call the vendor"},
    },
    "link.timeouts": {
        "text": {"zh": "{timeouts} 次回送没有得到应答（共 {exchanges} 次）",
                 "en": "{timeouts} of {exchanges} echo exchanges got no answer"},
        "advice": {"zh": "请检查串口线和终端；交易可能会超时",
                   "en": "check the cable and the terminal; payments may time out"},
    },
    "link.outage": {
        "text": {"zh": "线路中断了约 {seconds} 秒（连续 {failed} 次无应答）后恢复",
                 "en": "the line was dead for about {seconds} s ({failed} exchanges in a row "
                       "unanswered), then came back"},
        "advice": {"zh": "请检查串口线和接头是否松动，终端电源是否稳定",
                   "en": "check the cable and its plugs for a loose contact, and the "
                         "terminal's power"},
    },
    "link.dropped": {
        "text": {"zh": "连接被断开了 {drops} 次", "en": "the connection was dropped {drops} times"},
        "advice": {"zh": "请检查网线、路由器和终端的网络设置",
                   "en": "check the network cable, the router and the terminal's network "
                         "settings"},
    },
    "link.failed": {
        "text": {"zh": "无法测量线路：{error}", "en": "the link could not be measured: {error}"},
        "advice": {"zh": "请检查串口线和终端", "en": "check the cable and the terminal"},
    },
    # ------------------------------------------------------------------ clock
    "clock.ok": {
        "text": {"zh": "终端时钟与电脑相差 {offset}", "en": "the terminal clock is within "
                                                       "{offset} of the PC"},
        "advice": {"zh": "", "en": ""},
    },
    "clock.behind": {
        "text": {"zh": "终端时钟慢了{offset}", "en": "the terminal clock is {offset} behind"},
        "advice": {"zh": "请校准终端时钟，交易时间将由中心系统更正",
                   "en": "set it, records will be corrected by the hub"},
    },
    "clock.ahead": {
        "text": {"zh": "终端时钟快了{offset}", "en": "the terminal clock is {offset} ahead"},
        "advice": {"zh": "请校准终端时钟，交易时间将由中心系统更正",
                   "en": "set it, records will be corrected by the hub"},
    },
    "clock.reset": {
        "text": {"zh": "终端时钟被重置到 2000-01-01（现在显示 {terminal_time}）",
                 "en": "the terminal clock was reset to 2000-01-01 (it shows {terminal_time})"},
        "advice": {"zh": "时钟电池可能没电了：请校准时钟并请厂家换电池；交易时间将由中心系统更正",
                   "en": "its clock battery is probably flat: set the clock and have the vendor "
                         "replace the battery; records will be corrected by the hub"},
    },
    "clock.impossible": {
        "text": {"zh": "终端日期不可能：{terminal_time}",
                 "en": "the terminal's date is impossible: {terminal_time}"},
        "advice": {"zh": "请校准终端时钟", "en": "set the terminal clock"},
    },
    "clock.backwards": {
        "text": {"zh": "终端时钟倒退了：上次记录 {then}，现在 {now}",
                 "en": "the terminal clock went backwards: last seen {then}, now {now}"},
        "advice": {"zh": "请校准终端时钟；交易时间将由中心系统更正",
                   "en": "set the terminal clock; records will be corrected by the hub"},
    },
    # ------------------------------------------------------------------ buffer
    "buffer.ok": {
        "text": {"zh": "本机缓存正常：{records} 条记录，{waiting} 条待上传",
                 "en": "the station buffer is fine: {records} records, {waiting} waiting for "
                       "upload"},
        "advice": {"zh": "", "en": ""},
    },
    "buffer.station": {
        "text": {"zh": "{text}", "en": "{text}"},
        "advice": {"zh": "{advice}", "en": "{advice}"},
    },
    "buffer.backlog": {
        "text": {"zh": "终端上有 {count} 条流水还没有进入本机缓存",
                 "en": "the terminal holds {count} journal records the buffer lacks"},
        "advice": {"zh": "请检查同步程序是否在运行（stationlink agent status）",
                   "en": "check that the sync agent is running (stationlink agent status)"},
    },
    "buffer.settlement_mismatch": {
        "text": {"zh": "结算合计与本机缓存不符：{lines}",
                 "en": "settlement totals differ from the buffer: {lines}"},
        "advice": {"zh": "请先让同步程序取完流水；仍不符请把本报告发给办公室",
                   "en": "let the sync agent pull the journal first; if they still differ, "
                         "send this report to the office"},
    },
    "buffer.failed": {
        "text": {"zh": "无法读取本机缓存：{error}", "en": "cannot read the station buffer: "
                                                      "{error}"},
        "advice": {"zh": "请检查缓存文件路径（--buffer 或 agent.toml）",
                   "en": "check the buffer file's path (--buffer or agent.toml)"},
    },
    "buffer.not_given": {
        "text": {"zh": "没有指定本机缓存，未检查", "en": "no station buffer given: not checked"},
        "advice": {"zh": "", "en": ""},
    },
    "check.not_run": {
        "text": {"zh": "没有连上终端，未检查", "en": "not checked: no connection to the terminal"},
        "advice": {"zh": "", "en": ""},
    },
}

#: words of the console and the HTML report
LABELS: dict[str, dict[str, str]] = {
    "title": {"zh": "终端诊断报告", "en": "Terminal diagnosis report"},
    "check.connection": {"zh": "连接", "en": "Connection"},
    "check.identify": {"zh": "终端身份", "en": "Identity"},
    "check.device": {"zh": "设备状态", "en": "Device status"},
    "check.link": {"zh": "线路质量", "en": "Link quality"},
    "check.clock": {"zh": "时钟", "en": "Clock"},
    "check.buffer": {"zh": "本机缓存", "en": "Station buffer"},
    "status.ok": {"zh": "正常", "en": "ok"},
    "status.warning": {"zh": "注意", "en": "warning"},
    "status.fail": {"zh": "故障", "en": "fail"},
    "status.skipped": {"zh": "未检查", "en": "skipped"},
    "overall.0": {"zh": "一切正常", "en": "all ok"},
    "overall.1": {"zh": "有需要注意的地方", "en": "warnings"},
    "overall.2": {"zh": "发现故障", "en": "failures"},
    "overall.3": {"zh": "连不上终端", "en": "could not connect"},
    "heading.verdicts": {"zh": "结论", "en": "Verdicts"},
    "heading.measurements": {"zh": "测量", "en": "Measurements"},
    "heading.identity": {"zh": "终端", "en": "Terminal"},
    "heading.latency": {"zh": "往返时间（毫秒）", "en": "Round-trip time (ms)"},
    "advice": {"zh": "建议", "en": "Advice"},
    "date": {"zh": "诊断时间", "en": "Diagnosed at"},
    "url": {"zh": "连接", "en": "Link"},
    "duration": {"zh": "用时", "en": "Took"},
    "sure": {"zh": "确定", "en": "sure"},
    "likely": {"zh": "可能", "en": "likely"},
    "given": {"zh": "按给定设置", "en": "as given"},
    "no_chart": {"zh": "没有往返时间数据", "en": "no round-trip data"},
}

_UNITS = {
    "zh": ("秒", "分钟", "小时", "天"),
    "en": ("s", "min", "h", "days"),
}


def text(msg_id: str, lang: Lang, params: dict[str, object], part: str = "text") -> str:
    """The ``part`` (``text`` or ``advice``) of finding ``msg_id`` in ``lang``."""
    return FINDINGS[msg_id][part][lang].format(**params)


def label(key: str, lang: Lang) -> str:
    return LABELS[key][lang]


def duration(seconds: float, lang: Lang) -> str:
    """A duration for people: ``3小时`` / ``3 h``, ``5分钟`` / ``5 min``, ``40秒`` / ``40 s``."""
    s, m, h, d = _UNITS[lang]
    sep = "" if lang == "zh" else " "
    value = abs(seconds)
    if value >= 2 * 86400:
        return f"{value / 86400:.0f}{sep}{d}"
    if value >= 3600:
        hours = value / 3600
        return f"{hours:.0f}{sep}{h}" if abs(hours - round(hours)) < 0.05 else (
            f"{hours:.1f}{sep}{h}")
    if value >= 120:
        return f"{value / 60:.0f}{sep}{m}"
    return f"{value:.0f}{sep}{s}"
