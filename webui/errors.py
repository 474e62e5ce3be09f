"""Errors as a page or as JSON ({"error": message}, with "code" and "param" for a refused
parameter), in Chinese, never with a trace."""
from __future__ import annotations

import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from finsearch.messages import describe
from finsearch.search import IndexDamaged, IndexIncompatible, IndexMissing, SearchError, SearchTimeout

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求有误",
    404: "页面不存在",
    405: "不支持这种请求方式",
    413: "请求太大",
    414: "网址太长，请缩短查询",
    429: "请求太频繁，请稍后再试",
    431: "请求头太大",
    500: "服务器出错了，请稍后再试",
    503: "服务暂不可用",
}
TITLES = {404: "找不到", 503: "暂时无法搜索", 500: "出错了"}


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def respond(status: int, message: str, problem: SearchError | None = None):
    if _wants_json():
        if problem is not None:
            return make_response(jsonify(error=message, code=problem.code, param=problem.param), status)
        return make_response(jsonify(error=message), status)
    page = render_template("error.html", status=status, message=message,
                           title=TITLES.get(status, MESSAGES.get(status, "出错了")))
    return make_response(page, status)


def register(app) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        message = MESSAGES.get(status, error.name)
        # Our own aborts carry a Chinese description; Werkzeug's defaults are English.
        if error.description and error.description != type(error).description:
            message = error.description
        if status == 404 and _wants_json() and message == MESSAGES[404]:
            message = f"没有这个接口：{request.path[:100]}"
        response = respond(status, message)
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(SearchError)
    def _search_error(error: SearchError):
        return respond(400, describe(error), error)

    @app.errorhandler(IndexMissing)
    def _no_index(error: IndexMissing):
        log.error("%s", error)
        if isinstance(error, IndexIncompatible):
            return respond(503, "索引由另一版本建立，无法正确读取，请运行 finsearch reindex ARCHIVE --full 重建索引")
        if isinstance(error, IndexDamaged):
            return respond(503, f"索引文件损坏（{'、'.join(error.files[:3]) or '见日志'}），暂时无法搜索；"
                                "请运行 finsearch reindex 从存档修复，或 finsearch rollback 回到上一版本")
        return respond(503, "索引尚未建立或不完整，请先运行 finsearch index 建立索引")

    @app.errorhandler(SearchTimeout)
    def _too_slow(error: SearchTimeout):
        log.error("%s %s: %s", request.method, request.path[:200], error)
        return respond(503, "这次搜索耗时过长，请缩小范围后重试")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return respond(500, MESSAGES[500])
