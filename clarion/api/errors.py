"""One error shape for every refusal: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..logs import scrub

log = logging.getLogger("clarion.api")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.field, self.headers)


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_of(loc: tuple) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or None


def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = _field_of(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        field, message = "body", "the body is not valid JSON"
    return error_response(422, "invalid", f"{field}: {message}" if field else message, field)


def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400:  # FastAPI could not parse the body (not UTF-8, bad form …)
        return error_response(422, "invalid", "body: the body could not be parsed", "body")
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
    return error_response(exc.status_code, codes.get(exc.status_code, "error"),
                          str(exc.detail), None, getattr(exc, "headers", None))


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error: %s", scrub(f"{type(exc).__name__}: {exc}"))
    return error_response(500, "internal", "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, lambda _r, e: e.response())  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error codes a route may answer."""
    return {c: {"model": ErrorBody} for c in codes}


AUTHED = (401, 403, 413, 422, 429)


def refused(exc: Exception) -> ApiError:
    """A domain refusal as an answer: bad input 422 naming its field, not found 404."""
    from ..errors import NotFound, Rejected
    if isinstance(exc, Rejected):
        return ApiError(422, "rejected", exc.message, exc.field)
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc.args[0]) if exc.args else "not found")
    raise TypeError(f"not a refusal: {type(exc).__name__}")
