"""The console's two languages: English text is the key, Chinese (zh-CN, the default) its
translation.  A text without a translation shows in English."""

from __future__ import annotations

from typing import Any

ZH: dict[str, str] = {
    "Clarion console": "Clarion 控制台", "Sign in": "登录", "Sign out": "退出",
    "E-mail": "邮箱", "Password": "密码", "Language": "语言",
    "Wrong e-mail or password.": "邮箱或密码错误。",
    "Too many wrong passwords: try again later.": "密码错误次数过多，请稍后再试。",
    "overview": "概览", "campaigns": "群发", "compose": "撰写", "approvals": "审批",
    "deliveries": "投递", "directory": "通讯录", "templates": "模板",
    "rules": "规则与偏好", "access": "权限", "audit": "审计日志",
    "Overview": "概览", "Campaigns": "群发", "Compose": "撰写群发", "Approvals": "审批",
    "Deliveries": "投递记录", "Directory": "通讯录", "Templates": "模板",
    "Rules & preferences": "规则与偏好", "Access": "权限", "Audit log": "审计日志",
    "Running now": "正在发送与最近结束", "Nothing is running.": "当前没有正在发送的群发。",
    "Queues": "队列", "Channel": "渠道", "Queued": "排队", "Backlog age": "积压时长",
    "Failure rate, last hour": "近一小时失败率", "Retrying or stopped": "重试或暂停的渠道",
    "None.": "无。", "Grafana": "Grafana", "Status": "状态", "Category": "类别",
    "System": "来源系统", "Created": "创建时间", "Name": "名称", "Filter": "筛选",
    "Any": "全部", "From": "从", "To": "到", "Sent": "已发送", "Failed": "失败",
    "Skipped": "跳过", "Deferred": "延后", "Open": "未完成", "Total": "总数",
    "Cancel campaign": "取消群发", "Prefect flow run": "Prefect 流程运行",
    "Policy decisions": "策略决定", "Reason": "原因", "Count": "数量",
    "Template": "模板", "Inline content": "直接输入内容", "Title": "标题", "Body": "正文",
    "Audience": "受众", "Roles": "角色", "Departments": "院系", "Grades": "年级",
    "Everyone": "全体", "Channels": "渠道", "Priority": "优先级", "Variables": "变量",
    "Preview": "预览", "Send": "发送", "Schedule for": "定时发送",
    "Recipients": "收件人", "Sample recipient": "示例收件人",
    "characters": "字符", "segments": "条短信",
    "Approve": "批准", "Reject": "驳回", "Comment": "意见", "Waiting for approval":
    "等待审批", "Nothing waits for approval.": "没有待审批的群发。",
    "You asked for this campaign: another approver must decide.":
        "这是您发起的群发，须由其他审批人决定。",
    "Search": "搜索", "Recipient id, phone, e-mail or delivery id":
        "收件人编号、手机号、邮箱或投递编号",
    "Trace": "轨迹", "Attempt": "尝试", "Code": "代码", "Actor": "执行者", "At": "时间",
    "Import CSV": "导入 CSV", "Import": "导入", "Saved segments": "已保存的分组",
    "Save segment": "保存分组", "Preferences": "偏好", "Recent deliveries": "最近投递",
    "Line": "行", "Error": "错误", "Versions": "版本", "Save": "保存", "Delete": "删除",
    "Routing rules": "路由规则", "Mode": "模式", "Categories": "类别",
    "Quiet hours": "免打扰时段", "Cap per day": "每日上限", "Digest": "摘要",
    "Critical": "关键", "API keys": "API 密钥", "Staff": "员工", "Role": "角色",
    "Create": "创建", "Rotate": "轮换", "Revoke": "吊销",
    "Shown once: copy it now.": "仅显示一次，请立即复制。",
    "Not allowed": "无权访问", "Your role may not open this page.": "您的角色无权访问此页面。",
    "Back to the overview": "返回概览", "Saved.": "已保存。", "Refused": "已拒绝",
    "Approved by": "批准人", "Rejected by": "驳回人", "waiting": "等待中",
    "running": "发送中", "completed": "已完成", "cancelled": "已取消", "failed": "失败",
    "Progress": "进度", "None ticked: the category's routing rule.": "不勾选：按类别的路由规则。", "Saved to the audit log.": "已记入审计日志。",
    "insights": "受众洞察", "Insights": "受众洞察", "Show": "显示",
    "Who reads {category}": "谁在读「{category}」", "Segment": "分组", "Read": "阅读率",
    "Read / delivered": "已读 / 送达", "People": "人数", "people": "人",
    "vs everyone": "相对全体", "Learned interest": "学得的兴趣",
    "role": "角色", "department": "院系", "grade": "年级",
    "too little data": "数据太少",
    "The category's deliveries of the {days} days before the weekly retrain to people who "
    "allow profiling, by segment: read (or a link followed) out of delivered, and the interest "
    "the retrain learned of them (0–1).":
        "每周重新训练前 {days} 天内，该类别送达允许画像者的投递，按分组统计：已读（或点击链接）"
        "占送达之比，以及训练学得的兴趣（0–1）。",
    "Retrained {at}.": "训练于 {at}。",
    "Too little data: fewer than {people} people or {deliveries} deliveries (nothing is shown "
    "of so few people).": "数据太少：不足 {people} 人或 {deliveries} 次投递（人数这么少时不显示任何数字）。",
    "All {n} segments": "全部 {n} 个分组", "Nothing recorded yet for this category.":
        "该类别尚无记录。",
}


NAV_TITLES = {"overview": "Overview", "campaigns": "Campaigns", "compose": "Compose",
              "insights": "Insights", "approvals": "Approvals", "deliveries": "Deliveries",
              "directory": "Directory", "templates": "Templates", "rules": "Rules & preferences",
              "access": "Access", "audit": "Audit log"}


def translate(locale: str, text: str, **values: Any) -> str:
    out = ZH.get(text, text) if locale == "zh-CN" else text
    return out.format(**values) if values else out
