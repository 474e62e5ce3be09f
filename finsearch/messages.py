"""What people read of the engine's codes: the Chinese text of every SearchError code, of how a
malformed query was read, of why a query is suggested, and of what the archive lacks of a period.

The engine says what is wrong as a code, the parameter at fault and the values involved
(search.SearchError), how it read a query as a code (search.Notice), why it suggests a query as a
code and the words involved (search.Reason, Suggestion.words), and a period's coverage as a code
and its days (search.coverage.Gap, Span); the web pages, the JSON API and the command line word
them here, one message per code.
"""
from __future__ import annotations

from finsearch.search import Notice, Reason, SearchError, Suggestion
from finsearch.search.coverage import Gap, Span

MESSAGES = {
    "bad_request": "请求有误",
    "bad_date": "{param} 不是有效日期（应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM）：{value}",
    "bad_integer": "{param} 应为整数：{value}",
    "bad_flag": "{param} 应为 1 或 0：{value}",
    "query_too_long": "查询太长（{length} 字），请不超过 {limit} 字",
    "bad_sort": "排序方式应为 {either} 之一：{value}",
    "page_out_of_range": "页码应在 1 到 {limit} 之间",
    "size_out_of_range": "每页条数应在 1 到 {limit} 之间",
    "date_order": "开始日期晚于结束日期",
    "unknown_field": "fields 中没有这一列：{value}（可用：{choices}）",
    "unknown_param": "不认识的参数：{value}（可用参数：{choices}）",
    "bad_limit": "建议条数应在 1 到 {limit} 之间",
    "no_terms": "请至少输入一个词（q）",
    "too_many_terms": "最多比较 {limit} 个词，收到 {count} 个",
    "empty_term": "第 {number} 个词为空",
    "term_too_long": "第 {number} 个词太长（{length} 字），请不超过 {limit} 字",
    "bad_interval": "interval 应为 {either}：{value}",
    "too_many_periods": ("时间跨度太长：按{interval}有 {count} 个时段（最多 {limit} 个），"
                         "请缩短日期范围或按更长的时段统计"),
    "bad_stock": "股票代码应为 6 位数字：{value}",
    "bad_mode": "mode 应为 {either}：{value}",
}
NOTICES = {
    Notice.DANGLING_OPERATOR: "忽略了查询首尾多余的 AND/OR/NOT",
    Notice.UNBALANCED_QUOTES: "引号不成对，已按普通词语搜索",
    Notice.SYNTAX_ERROR: "查询语法有误，已按普通词语搜索",
    Notice.NOTHING_TO_SEARCH: "查询中没有可搜索的词语",
}
# {words}: the suggestion's words, each in 「」; {0}, {1}: the first, the second of them.
REASONS = {
    Reason.CORRECTED: "纠正{words}",
    Reason.DROPPED: "去掉{words}",
    Reason.SHORTER: "较短的{words}",
    Reason.ALIAS: "{0}的别名{1}",
}
# {covered} of the period's {days} days have posts in the archive.
COVERAGE_NOTES = {
    Gap.NO_DATA: "无数据：档案中没有这段时间的文章",
    Gap.PARTIAL: "仅 {covered}/{days} 天有数据",
}
LIST_SEPARATOR = "、"
INTERVAL_LABELS = {"day": "日", "week": "周", "month": "月"}  # 按日, 按周, 按月


def describe(error: SearchError) -> str:
    """The sentence a person reads for `error`."""
    values = dict(error.details)
    choices = [str(choice) for choice in values.get("choices", ())]
    values["choices"] = LIST_SEPARATOR.join(choices)  # 可用：a、b、c
    values["either"] = (f"{LIST_SEPARATOR.join(choices[:-1])} 或 {choices[-1]}" if len(choices) > 1
                        else "".join(choices))  # 应为 a、b 或 c
    if "interval" in values:
        values["interval"] = INTERVAL_LABELS.get(values["interval"], values["interval"])
    template = MESSAGES.get(error.code, MESSAGES["bad_request"])
    try:
        return template.format(param=error.param, **values)
    except (KeyError, IndexError):  # a detail the template expects is missing: say what we know
        return f"{MESSAGES['bad_request']}（{error.code}）"


def notice_text(notice: Notice | None) -> str:
    """The sentence a person reads for how a query was read; "" when it was read as typed."""
    return NOTICES[notice] if notice else ""


def reason_text(suggestion: Suggestion) -> str:
    """Why a person is offered `suggestion`: 去掉「喵星人」, 「国家发展和改革委员会」的别名「国家发展改革委」."""
    quoted = [f"「{word}」" for word in suggestion.words]
    return REASONS[suggestion.reason].format(*quoted, words="".join(quoted))


def coverage_note(span: Span) -> str:
    """What a period's figure can be trusted for, for people; "" when the archive has every day of it."""
    return COVERAGE_NOTES[span.gap].format(covered=span.covered, days=span.days) if span.gap else ""
