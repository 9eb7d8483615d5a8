"""Maps domain errors and validation failures to `{"error": {"code", "message", "details"}}` once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    ConflictError,
    DeflectError,
    ForbiddenError,
    IndexMismatchError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)

log = logging.getLogger(__name__)

STATUS: dict[type[DeflectError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    ForbiddenError: 403,
    UnauthorizedError: 401,
    RateLimitedError: 429,
    IndexMismatchError: 503,
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _where(loc: Sequence[Any], *, skip_body: bool) -> str:
    """The field path of an error: no "body" prefix, no tagged-union member names ("ticket:single")."""
    return ".".join(
        str(p) for p in loc if not (skip_body and p == "body") and not (isinstance(p, str) and ":" in p)
    )


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    # Echoing the offending input back could reflect megabytes or binary junk.
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DeflectError)
    async def _domain(_: Request, exc: DeflectError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _clean(list(exc.errors()))
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = _where(first["loc"], skip_body=True) or "body"
        return JSONResponse(
            error_body("invalid_request", f"{where}: {first['msg']}", errors), status_code=422
        )

    @app.exception_handler(ValidationError)
    async def _service_validation(_: Request, exc: ValidationError) -> JSONResponse:
        # A service re-validating merged input (a PATCH, a form turned into a ticket) rejects the
        # caller's data: that is a 422 like any request validation, not a server error.
        errors = _clean(list(exc.errors()))
        first = errors[0] if errors else {"loc": [], "msg": "invalid input"}
        where = _where(first["loc"], skip_body=False) or exc.title
        return JSONResponse(error_body("invalid_input", f"{where}: {first['msg']}", errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "internal error; it has been logged"), status_code=500
        )
