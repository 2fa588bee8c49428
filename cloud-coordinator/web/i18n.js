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
