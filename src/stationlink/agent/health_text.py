"""The people-facing strings of the station health screen (``agent status``, ``buffer stats``).

Contract: :data:`CATALOGUE` maps a stable message id to its Chinese (``zh``, the default) and
English (``en``) text; :func:`text` looks one up (``str.format`` fields filled from
``**values``). The ids are stable so that the catalogue can be exported to gettext ``.po``
files later (issue 12): never rename an id, add a new one. Every reason id of
:mod:`stationlink.agent.health` has a ``health.reason.<id>`` text and a
``health.advice.<id>`` advice. :func:`duration` writes an age for people in ``lang``,
:func:`reason_values` a reason's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..clock import when

LANGS = ("zh", "en")

CATALOGUE: dict[str, dict[str, str]] = {
    # the verdict line
    "health.verdict.ok": {"zh": "数据流动：正常", "en": "data flowing: ok"},
    "health.verdict.warning": {"zh": "数据流动：警告（{warnings} 项警告）",
                               "en": "data flowing: WARNING ({warnings} warning(s))"},
    "health.verdict.fail": {"zh": "数据流动：故障（{fails} 项故障，{warnings} 项警告）",
                            "en": "data flowing: FAIL ({fails} failure(s), "
                                  "{warnings} warning(s))"},
    "health.level.fail": {"zh": "[故障]", "en": "[fail]"},
    "health.level.warning": {"zh": "[警告]", "en": "[warn]"},
    "health.more_reasons": {"zh": "  ……另有 {n} 项，见下文或 --json",
                            "en": "  ... and {n} more, see below or --json"},
    # reasons (what is wrong) and advice (what to do), one pair per reason id
    "health.reason.quarantine": {
        "zh": "{records} 条记录被中心拒收（隔离）：HTTP {http_status} {reason}",
        "en": "{records} record(s) quarantined: HTTP {http_status} {reason}",
    },
    "health.advice.quarantine": {
        "zh": "按中心给出的原因修正后运行 stationlink agent release 重新上传；之后的记录都在等它。",
        "en": "fix the hub's reason, then run stationlink agent release; every later record "
              "waits for it.",
    },
    "health.reason.upload_stale": {
        "zh": "{waiting} 条记录等待上传，最早一条已等 {oldest_age_s}",
        "en": "{waiting} record(s) wait to upload, the oldest for {oldest_age_s}",
    },
    "health.advice.upload_stale": {
        "zh": "检查网络和中心地址、令牌（agent.toml [hub]），并确认代理在运行。",
        "en": "check the network, the hub URL and token (agent.toml [hub]) and that the "
              "agent runs.",
    },
    "health.reason.settlement_mismatch": {
        "zh": "终端 {terminal_id} 结算对账不符：{lines} 行",
        "en": "terminal {terminal_id}: settlement totals differ on {lines} line(s)",
    },
    "health.advice.settlement_mismatch": {
        "zh": "终端记录与本机缓存不一致，奖励可能少算：联系市公司核对，不要清空终端流水。",
        "en": "the terminal and the buffer disagree, rewards may be short: call the office, "
              "do not clear the terminal's journal.",
    },
    "health.reason.unknown_old": {
        "zh": "{count} 笔结果未知的交易（共 {amount} 元），最早 {oldest_at}",
        "en": "{count} unresolved unknown outcome(s) ({amount} 元), oldest {oldest_at}",
    },
    "health.advice.unknown_old": {
        "zh": "连上对应终端让代理查询流水；仍未知的请按 client_ref 联系市公司。",
        "en": "connect the terminal so the agent can ask its journal; call the office with the "
              "client_ref if it stays unknown.",
    },
    "health.reason.poll_stale": {
        "zh": "终端 {terminal_id} 已 {age_s} 未读取（上次 {last_poll_at}）",
        "en": "terminal {terminal_id} not polled for {age_s} (last poll {last_poll_at})",
    },
    "health.reason.poll_never": {
        "zh": "终端 {terminal_id} 从未被读取",
        "en": "terminal {terminal_id} never polled",
    },
    "health.advice.poll_stale": {
        "zh": "检查终端电源和连线，运行 stationlink diag 查看链路。",
        "en": "check the terminal's power and cable; run stationlink diag on its link.",
    },
    "health.advice.poll_never": {
        "zh": "检查终端电源和连线，运行 stationlink diag 查看链路。",
        "en": "check the terminal's power and cable; run stationlink diag on its link.",
    },
    "health.reason.paper_out": {
        "zh": "终端 {terminal_id} 缺纸（{at}）",
        "en": "terminal {terminal_id} is out of paper ({at})",
    },
    "health.advice.paper_out": {
        "zh": "给终端装纸。", "en": "load paper into the terminal.",
    },
    "health.reason.device_errors": {
        "zh": "终端 {terminal_id} 报告错误：{counters}",
        "en": "terminal {terminal_id} reports errors: {counters}",
    },
    "health.advice.device_errors": {
        "zh": "记下错误计数发给市公司；重启终端会清零计数。",
        "en": "send the error counters to the office; a restart clears them.",
    },
    "health.reason.agent_stopped": {
        "zh": "同步代理已于 {stopped_at} 停止",
        "en": "the sync agent stopped at {stopped_at}",
    },
    "health.advice.agent_stopped": {
        "zh": "启动代理：stationlink agent run --config agent.toml",
        "en": "start it: stationlink agent run --config agent.toml",
    },
    "health.reason.agent_silent": {
        "zh": "同步代理已 {age_s} 没有心跳（{heartbeat_at}）",
        "en": "no heartbeat from the sync agent for {age_s} ({heartbeat_at})",
    },
    "health.advice.agent_silent": {
        "zh": "代理可能已退出或卡住：查看日志并重新启动。",
        "en": "the agent may have died or hung: look at its log and restart it.",
    },
    # the screen
    "health.station": {"zh": "站点 {station_id}（缓存 {buffer}）",
                       "en": "station {station_id} (buffer {buffer})"},
    "health.agent.none": {"zh": "代理：从未启动", "en": "agent: never started"},
    "health.agent.no_state": {"zh": "代理：没有代理状态文件（上传和读取情况未知）",
                              "en": "agent: no agent state file (uploads and polls unknown)"},
    "health.agent.running": {"zh": "代理：进程 {pid} 运行中，启动于 {started_at}，心跳 {age}前",
                             "en": "agent: pid {pid} running, started {started_at}, "
                                   "heartbeat {age} ago"},
    "health.agent.stopped": {"zh": "代理：进程 {pid} 已停止 {stopped_at}，启动于 {started_at}",
                             "en": "agent: pid {pid} stopped {stopped_at}, "
                                   "started {started_at}"},
    "health.captured": {"zh": "最后采集：{at}，终端 {terminal_id}（seq {seq}）",
                        "en": "last record captured {at} from {terminal_id} (seq {seq})"},
    "health.captured.none": {"zh": "最后采集：还没有记录", "en": "last record captured: none yet"},
    "health.terminal": {"zh": "  {terminal_id} {url}（{dialect}）：{link}，{device}",
                        "en": "  {terminal_id} {url} ({dialect}): {link}, {device}"},
    "health.terminal.connected": {"zh": "已连接", "en": "connected"},
    "health.terminal.disconnected": {"zh": "未连接", "en": "not connected"},
    "health.terminal.link_unknown": {"zh": "连接未知", "en": "link unknown"},
    "health.terminal.cursor": {"zh": "    流水位置 {cursor}，上次读取 {last_poll_at}",
                               "en": "    cursor {cursor}, last poll {last_poll_at}"},
    "health.terminal.cursor_none": {"zh": "尚无", "en": "none yet"},
    "health.terminal.last_error": {"zh": "    最近错误 {at}：{error}",
                                   "en": "    last error {at}: {error}"},
    "health.device.none": {"zh": "设备状态：尚无", "en": "device status: none yet"},
    "health.device": {"zh": "{paper}，未确认流水 {unacked} 条",
                      "en": "{paper}, unacked {unacked}"},
    "health.device.errors": {"zh": "，错误 {counters}", "en": ", errors {counters}"},
    "health.paper.ok": {"zh": "纸张正常", "en": "paper ok"},
    "health.paper.out": {"zh": "缺纸", "en": "paper OUT"},
    "health.upload": {"zh": "上次上传：{at}（中心已收到 seq {hwm}）",
                      "en": "last upload: {at} (hub high-water mark {hwm})"},
    "health.upload.never": {"zh": "上次上传：从未", "en": "last upload: never"},
    "health.upload.unknown": {"zh": "上次上传：未知（没有代理状态）",
                              "en": "last upload: unknown (no agent state)"},
    "health.upload.error": {"zh": "  中心最近错误 {at}：{error}",
                            "en": "  last hub error {at}: {error}"},
    "health.waiting": {"zh": "记录 {records} 条，已同步到 seq {synced}，等待上传 {waiting} 条",
                       "en": "records {records}, synced up to {synced}, backlog {waiting}"},
    "health.waiting.oldest": {"zh": "  最早未同步：seq {seq} {at}（{age}前）",
                              "en": "  oldest unsynced seq {seq} at {at} ({age} ago)"},
    "health.quarantine": {"zh": "隔离：{batches} 批，{records} 条记录",
                          "en": "quarantine: {batches} batch(es), {records} record(s)"},
    "health.quarantine.entry": {"zh": "  第 {id} 项：seq {first}..{last} "
                                      "HTTP {http_status}：{reason}",
                                "en": "  entry {id}: seq {first}..{last} HTTP {http_status}: "
                                      "{reason}"},
    "health.unknowns": {"zh": "结果未知的交易：{count} 笔（{amount} 元）{oldest}",
                        "en": "unresolved unknown outcomes: {count} ({amount} 元){oldest}"},
    "health.unknowns.oldest": {"zh": "，最早 {at}", "en": ", oldest {at}"},
    "health.settlement.none": {"zh": "结算对账：无不符", "en": "settlement mismatches: none"},
    "health.settlement": {"zh": "结算对账不符：终端 {terminal_id} {at}，{lines} 行",
                          "en": "settlement mismatches: {terminal_id} checked {at}, "
                                "{lines} line(s) differ"},
    "health.settlement.line": {"zh": "  {kind} {product}：终端 {tc} 笔 {ta} 元，"
                                     "缓存 {bc} 笔 {ba} 元",
                               "en": "  {kind} {product}: terminal {tc} / {ta} 元, "
                                     "buffer {bc} / {ba} 元"},
    "health.more": {"zh": "  ……另有 {n} 项", "en": "  ... and {n} more"},
    "health.never": {"zh": "从未", "en": "never"},
    "health.unknown": {"zh": "未知", "en": "unknown"},
    # the full listing (agent status --details)
    "status.agent": {"zh": "代理：进程 {pid}，启动于 {started}，{run}，上次心跳 {heartbeat}",
                     "en": "agent: pid {pid}, started {started}, {run}, last heartbeat "
                           "{heartbeat}"},
    "status.running": {"zh": "运行中", "en": "running"},
    "status.stopped": {"zh": "已停止 {at}", "en": "stopped {at}"},
    "status.terminals": {"zh": "终端：", "en": "terminals:"},
    "status.terminal": {"zh": "  {terminal_id} {url}（{dialect}）：{state}，流水位置 {cursor}，"
                              "上次读取 {poll}",
                        "en": "  {terminal_id} {url} ({dialect}): {state}, cursor {cursor}, "
                              "last poll {poll}"},
    "status.records": {"zh": "记录 {records} 条，已同步到 seq {synced}，等待上传 {backlog} 条，"
                             "最早未同步 {oldest}",
                       "en": "records {records}, synced up to {synced}, backlog {backlog}, "
                             "oldest unsynced {oldest}"},
    "status.none": {"zh": "无", "en": "none"},
    "status.upload": {"zh": "上次上传：{at}（中心已收到 seq {hwm}，共上传 {uploaded} 条）",
                      "en": "last upload: {at} (hub high-water mark {hwm}, {uploaded} records "
                            "uploaded)"},
    "status.next_attempt": {"zh": "  下次尝试 {at}", "en": "  next attempt {at}"},
    "status.unknowns": {"zh": "结果未知的交易：{n} 笔", "en": "unresolved unknown outcomes: {n}"},
    "status.mismatches": {"zh": "结算对账不符：{n} 行", "en": "settlement mismatches: {n}"},
    "status.check": {"zh": "  {terminal_id} 对账于 {at}：{result}",
                     "en": "  {terminal_id} checked {at}: {result}"},
    "status.check.agree": {"zh": "一致", "en": "agree"},
    "status.check.differ": {"zh": "{n} 行不符", "en": "{n} line(s) differ"},
    "status.devices": {"zh": "设备状态：", "en": "device status:"},
    "status.devices.none": {"zh": "设备状态：尚无", "en": "device status: none yet"},
    "status.device": {"zh": "  {terminal_id} {at}：{paper}，信号 {signal} dBm，"
                            "未确认 {unacked} 条，启动号 {boot}",
                      "en": "  {terminal_id} at {at}: {paper}, signal {signal} dBm, "
                            "unacked {unacked}, boot {boot}"},
    # ages
    "health.age.s": {"zh": "{n} 秒", "en": "{n} s"},
    "health.age.min": {"zh": "{n} 分钟", "en": "{n} min"},
    "health.age.h": {"zh": "{h} 小时 {m} 分", "en": "{h} h {m} min"},
    "health.age.d": {"zh": "{n} 天", "en": "{n} days"},
    # buffer stats labels (the counts under the health block)
    "stats.station": {"zh": "站点", "en": "station"},
    "stats.records": {"zh": "记录", "en": "records"},
    "stats.transactions": {"zh": "交易", "en": "transactions"},
    "stats.reversals": {"zh": "冲正", "en": "reversals"},
    "stats.unknown": {"zh": "结果未知", "en": "unknown outcomes"},
    "stats.unknown.value": {"zh": "{n}（{unresolved} 笔未解决）",
                            "en": "{n} ({unresolved} unresolved)"},
    "stats.void": {"zh": "作废", "en": "void"},
    "stats.referrals": {"zh": "推荐", "en": "referrals"},
    "stats.referrals.value": {"zh": "{n}（{cancelled} 笔已取消）",
                              "en": "{n} ({cancelled} cancelled)"},
    "stats.synced": {"zh": "已同步到 seq", "en": "synced up to seq"},
    "stats.backlog": {"zh": "待上传", "en": "backlog"},
    "stats.oldest": {"zh": "最早未同步", "en": "oldest unsynced"},
    "stats.oldest.value": {"zh": "seq {seq} {at}", "en": "seq {seq} at {at}"},
    "stats.quarantined": {"zh": "隔离", "en": "quarantined"},
    "stats.quarantined.value": {"zh": "{batches} 批，{records} 条", "en": "{batches} batch(es), "
                                                                       "{records} record(s)"},
    "stats.conflicts": {"zh": "冲突副本", "en": "conflicting copies"},
    "stats.mismatches": {"zh": "结算不符行", "en": "settlement mismatches"},
    "stats.snapshots": {"zh": "设备快照", "en": "device snapshots"},
    "stats.last_upload": {"zh": "上次上传", "en": "last upload"},
    "stats.terminal": {"zh": "终端 {terminal_id}", "en": "terminal {terminal_id}"},
    "stats.terminal.value": {"zh": "流水位置 {cursor}，最后记录 {at}",
                             "en": "cursor {cursor}, last record {at}"},
    "stats.terminal.paper_out": {"zh": "，缺纸", "en": ", paper OUT"},
}


def text(msg_id: str, lang: str = "zh", **values: object) -> str:
    """The text of ``msg_id`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")
    return CATALOGUE[msg_id][lang].format(**values)


def duration(seconds: float, lang: str = "zh") -> str:
    """An age for people: seconds under a minute, minutes under an hour, hours and minutes
    under two days, else whole days (always rounded down)."""
    s = max(0, int(seconds))
    if s < 60:
        return text("health.age.s", lang, n=s)
    if s < 3600:
        return text("health.age.min", lang, n=s // 60)
    if s < 2 * 86400:
        return text("health.age.h", lang, h=s // 3600, m=s % 3600 // 60)
    return text("health.age.d", lang, n=s // 86400)


def reason_values(params: Mapping[str, str | int | None], lang: str = "zh") -> dict[str, str]:
    """A reason's JSON parameters as people read them: ``*_at`` times in CST (or "never"),
    ``*_s`` ages as :func:`duration`, a missing value as "unknown"."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if key.endswith("_at"):
            out[key] = when(None if value is None else str(value), text("health.never", lang))
        elif value is None:
            out[key] = text("health.unknown", lang)
        elif key.endswith("_s"):
            out[key] = duration(int(value), lang)
        else:
            out[key] = str(value)
    return out


__all__ = ["CATALOGUE", "LANGS", "duration", "reason_values", "text"]
