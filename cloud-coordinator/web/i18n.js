// Labels in English and Chinese. Elements carry data-i18n="key"; the choice is
// remembered in localStorage.
const LABELS = {
  en: {
    title_login: "Tandem — log in", username: "Username", password: "Password", login: "Log in",
    logout: "Log out", lang: "中文", desk: "Agent desktop", wallboard: "Wallboard", admin: "Administration",
    state: "State", call: "Call", caller: "Caller", queue: "Queue", held: "On hold",
    incoming: "Incoming call", ready: "Ready", not_ready: "Not ready", reason: "Reason",
    answer: "Answer", reject: "Reject", hold: "Hold", resume: "Resume", hangup: "Hang up",
    transfer: "Transfer", consult: "Consult first", to_agent: "Agent", to_queue: "Queue",
    complete: "Complete transfer", conference: "Conference", cancel_consult: "Cancel consult",
    wrapup: "Wrap-up", disposition: "Disposition", note: "Note", finish: "Finish",
    sign_in: "Start work", sign_out: "Stop work", queues: "Queues", agents: "Agents",
    nodes: "Nodes", tokens: "Enrollment token", site: "Site", ttl: "Valid (seconds)", create: "Create",
    revoke: "Revoke", config: "Center configuration", save: "Save", load: "Reload",
    accounts: "Accounts", role: "Role", agent: "Agent", groups: "Groups", delete: "Delete", edit: "Edit", supervise: "Supervision", monitor: "Monitor", whisper: "Whisper", barge: "Barge in", force_release: "Force release", stop_supervising: "Stop",
    history: "Earlier calls", sites: "Sites", today: "My day", calls: "Calls", talk: "Talk time (s)", average: "Average talk (s)", online: "online", offline: "offline", revoked: "revoked", saved: "Saved", error: "Error",
    name: "Name", waiting: "Waiting", offered: "Offered", answered: "Answered", abandoned: "Abandoned", transferred: "Transferred", service_level: "Service level", asa: "ASA (s)", calls_up: "Calls up", nodes_online: "Online",
    reports: "Reports", from: "From", to: "To", period: "Period", day: "Day", week: "Week", month: "Month", show: "Show",
    aht: "AHT (s)", answer_rate: "Answer rate", occupancy: "Occupancy", trunk_occupancy: "Trunk occupancy", lines: "Lines", ivr_visits: "IVR node visits",
    // The configuration forms (admin-config.js).
    accepted: "If accepted", action: "Action", add: "Add", advanced: "Whole file (TOML)", after_s: "After (s)",
    announce_s: "Announce every (s)", barge_in: "Digits interrupt", blacklist: "Blacklist",
    business_hours: "Business hours", calendar: "Calendar", callback_ewt_s: "Offer callback when wait over (s)",
    callback_offer: "Offer callback", cancel: "Cancel", closed_message: "Closed message",
    collect: "Collect digits", config_forms: "Contact center setup", date: "Date", declined: "If declined",
    duty_manager: "Duty manager", exact: "Exact number", expert_pool: "Expert pool", fri: "Fri",
    from_queue: "As the queue", group: "Group", groups_skills: "Groups & skills",
    holidays: "Holidays (YYYY-MM-DD, …)", home: "Home", hours: "Opening hours", id: "ID",
    inter_digit_s: "Between digits (s)", ivr_flow: "IVR flow", ivr_flows: "IVR flows", kind: "Kind",
    leads_groups: "Leads groups", line_flows: "Per-line flows (fxo2=flow, …)", match: "Match",
    max_len: "Max digits", max_missed: "Missed offers before not ready", max_waiting: "Max waiting",
    members: "Members", memberships: "Groups and skills", menu: "Menu", min_len: "Min digits",
    min_proficiency: "Min skill", mon: "Mon", new: "New", next: "Next", node: "Node", none: "—",
    not_supervisor: "Not a supervisor", number: "Number", offer_timeout_s: "Ring agent for (s)",
    on_exhausted: "After retries", options: "Digits (1=node, …)", overflow: "Overflow", play: "Play",
    prefix: "Starts with", priority: "Priority", proficiency: "Skill (1–5)",
    prompt: "Prompt (file or tone:697+1209/200)", prompts: "Prompts", record: "Record calls", retries: "Retries",
    route_to: "Route to queue", s_caller: "Caller number", s_circular: "Round robin", s_fewest: "Fewest calls",
    s_linear: "In order", s_longest_idle: "Longest idle", s_priority: "Agent priority", s_proficiency: "By skill",
    s_random: "Random", s_ring_all: "Ring all", sat: "Sat", seat: "Seat", seat_endpoint: "Seat or phone port",
    seat_node: "Seat node", skill: "Skill", sl_percent: "Service level %", sl_seconds: "within (s)",
    special_days: "Special days", start: "Start node", strategy: "Strategy", sun: "Sun",
    targets: "Agent groups in order", team: "Team", team_lead: "Team lead", thu: "Thu",
    timeout_s: "Wait for digit (s)", tue: "Tue", utc_offset: "UTC offset (min)", variable: "Variable",
    version: "Version", vips: "VIP callers", w_mandatory: "Mandatory", w_manual: "Until done", w_none: "None",
    w_optional: "Optional", wed: "Wed", weekly: "Weekly hours", when: "When", when_closed: "If closed",
    when_full: "Queue full", when_no_agents: "No agent ready", when_open: "If open",
    when_wait: "Waited longer than", works_at: "Branch (empty: home)", wrapup_s: "Wrap-up (s)",
    shifts: "Shifts (Mon-Fri 09:00-13:00; …, empty: always)",
    // Wallboard: live durations (mm:ss) and lines.
    longest_wait: "Longest wait", in_state: "Time in state", lines_in_use: "Lines in use",
  },
  zh: {
    title_login: "Tandem — 登录", username: "用户名", password: "密码", login: "登录",
    logout: "退出", lang: "English", desk: "坐席工作台", wallboard: "监控大屏", admin: "系统管理",
    state: "状态", call: "通话", caller: "主叫号码", queue: "队列", held: "保持中",
    incoming: "来电", ready: "就绪", not_ready: "未就绪", reason: "原因",
    answer: "接听", reject: "拒接", hold: "保持", resume: "恢复", hangup: "挂断",
    transfer: "转接", consult: "先咨询", to_agent: "坐席", to_queue: "队列",
    complete: "完成转接", conference: "三方会议", cancel_consult: "取消咨询",
    wrapup: "话后处理", disposition: "处理结果", note: "备注", finish: "完成",
    sign_in: "签入", sign_out: "签出", queues: "队列", agents: "坐席",
    nodes: "节点", tokens: "注册令牌", site: "站点", ttl: "有效期（秒）", create: "创建",
    revoke: "吊销", config: "中心配置", save: "保存", load: "重新加载",
    accounts: "账号", role: "角色", agent: "坐席", groups: "组", delete: "删除", edit: "编辑", supervise: "班长操作", monitor: "监听", whisper: "耳语", barge: "强插", force_release: "强拆", stop_supervising: "停止",
    history: "历史来电", sites: "站点", today: "今日统计", calls: "通话数", talk: "通话时长（秒）", average: "平均通话（秒）", online: "在线", offline: "离线", revoked: "已吊销", saved: "已保存", error: "错误",
    name: "名称", waiting: "排队中", offered: "呼入", answered: "接通", abandoned: "放弃", transferred: "转出", service_level: "服务水平", asa: "平均应答（秒）", calls_up: "通话中", nodes_online: "在线节点",
    reports: "统计报表", from: "开始日期", to: "结束日期", period: "周期", day: "日", week: "周", month: "月", show: "查询",
    aht: "平均处理时长（秒）", answer_rate: "应答率", occupancy: "占用率", trunk_occupancy: "中继占用率", lines: "线路数", ivr_visits: "IVR 节点访问",
    // The configuration forms (admin-config.js).
    accepted: "接受后", action: "处理方式", add: "添加", advanced: "完整配置文件（TOML）", after_s: "等待后（秒）", announce_s: "播报间隔（秒）",
    barge_in: "按键打断", blacklist: "黑名单", business_hours: "工作时间", calendar: "日历", callback_ewt_s: "预计等待超过（秒）提供回拨",
    callback_offer: "提供回拨", cancel: "取消", closed_message: "下班提示", collect: "收号", config_forms: "呼叫中心设置",
    date: "日期", declined: "拒绝后", duty_manager: "值班经理", exact: "完全匹配", expert_pool: "专家池", fri: "周五",
    from_queue: "同队列", group: "组", groups_skills: "坐席组与技能", holidays: "节假日（YYYY-MM-DD，…）", home: "居家",
    hours: "营业时间", id: "编号", inter_digit_s: "位间超时（秒）", ivr_flow: "IVR 流程", ivr_flows: "IVR 流程", kind: "类型",
    leads_groups: "管理的组", line_flows: "按线路流程（fxo2=流程，…）", match: "匹配", max_len: "最多位数", max_missed: "未接几次后置忙",
    max_waiting: "最大排队数", members: "成员", memberships: "所属组与技能", menu: "菜单", min_len: "最少位数",
    min_proficiency: "最低技能", mon: "周一", new: "新建", next: "下一步", node: "节点", none: "—", not_supervisor: "非班长",
    number: "号码", offer_timeout_s: "振铃时长（秒）", on_exhausted: "重试用尽后", options: "按键（1=节点，…）", overflow: "溢出",
    play: "放音", prefix: "号段前缀", priority: "优先级", proficiency: "技能（1–5）", prompt: "提示音（文件或 tone:697+1209/200）",
    prompts: "提示音", record: "录音", retries: "重试次数", route_to: "转入队列", s_caller: "按主叫号码", s_circular: "轮询",
    s_fewest: "最少接听", s_linear: "顺序", s_longest_idle: "最长空闲", s_priority: "坐席优先级", s_proficiency: "按技能",
    s_random: "随机", s_ring_all: "同振", sat: "周六", seat: "座席位置", seat_endpoint: "耳机座席或话机端口", seat_node: "座席所在节点",
    skill: "技能", sl_percent: "服务水平 %", sl_seconds: "时限（秒）", special_days: "特殊日期", start: "起始节点", strategy: "分配策略",
    sun: "周日", targets: "依次分配的坐席组", team: "班组", team_lead: "班长", thu: "周四", timeout_s: "按键等待（秒）", tue: "周二",
    utc_offset: "UTC 时差（分钟）", variable: "变量", version: "版本", vips: "VIP 来电", w_mandatory: "强制", w_manual: "手动结束",
    w_none: "无", w_optional: "可提前结束", wed: "周三", weekly: "每周时间", when: "条件", when_closed: "下班时", when_full: "队列已满",
    when_no_agents: "无就绪坐席", when_open: "上班时", when_wait: "等待超过", works_at: "所在分支（空为居家）", wrapup_s: "话后处理（秒）",
    shifts: "班次（Mon-Fri 09:00-13:00；…，空为全天）",
    // Wallboard: live durations (mm:ss) and lines.
    longest_wait: "最长等待", in_state: "状态时长", lines_in_use: "占用线路",
  },
};

export function lang() {
  return localStorage.getItem("tandem.lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
}

export function t(key) {
  return LABELS[lang()][key] ?? key;
}

export function applyLabels(root = document) {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function toggleLang() {
  localStorage.setItem("tandem.lang", lang() === "zh" ? "en" : "zh");
  applyLabels();
  // Pages redraw what they built with t() (tables).
  window.dispatchEvent(new Event("tandem-lang"));
}
