"""One JSON error shape everywhere: `{"error": {"status", "code", "message"}}`.

`code` is machine-readable (UPPER_SNAKE); `message` is for people. Sequencer refusals keep their
results.ResultCode name as `code`; the HTTP status follows the code's stage (see `status_for`).
A request that fails changes nothing: the sequencer refuses before it mutates, and the API checks
shape, authentication and limits before it submits.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.gateway import GatewayUnavailable
from exchange.results import CommandResult, ResultCode

_NOT_FOUND = {
    ResultCode.UNKNOWN_ACCOUNT,
    ResultCode.UNKNOWN_INSTRUMENT,
    ResultCode.UNKNOWN_ORDER,
    ResultCode.UNKNOWN_BOOKING,
    ResultCode.MATCHING_UNKNOWN_ORDER,
}
_FORBIDDEN = {ResultCode.NOT_PERMITTED, ResultCode.NOT_YOUR_ORDER, ResultCode.MATCHING_NOT_ORDER_OWNER}
_CONFLICT = {
    ResultCode.DUPLICATE_SYMBOL,
    ResultCode.DUPLICATE_CLIENT_ORDER_ID,
    ResultCode.MATCHING_DUPLICATE_ORDER_ID,
}


class ApiError(Exception):
    """Raised anywhere in the API; rendered as the one error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def status_for(code: int) -> int:
    """HTTP status of a sequencer refusal: unknown objects 404, not yours 403, duplicates 409,
    malformed (validation and matching) 422, risk and lifecycle 409, store down 503."""
    if code in _NOT_FOUND:
        return 404
    if code in _FORBIDDEN:
        return 403
    if code in _CONFLICT:
        return 409
    if 1000 <= code < 2000 or 3000 <= code < 4000:
        return 422
    if 2000 <= code < 3000 or 4000 <= code < 5000:
        return 409
    return 503


def refusal(result: CommandResult) -> ApiError:
    return ApiError(status_for(result.code), result.code_name, result.message or result.code_name)


def raise_for(result: CommandResult) -> CommandResult:
    """The result itself when it succeeded; the refusal as an ApiError otherwise."""
    if not result.ok:
        raise refusal(result)
    return result


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.code, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(GatewayUnavailable)
    async def _gateway_down(_request: Request, exc: GatewayUnavailable) -> JSONResponse:
        # Fail closed: the command was not acknowledged, and the sequencer host drops it once its
        # deadline has passed (docs/scale-out.md), so nothing is applied behind the client's back.
        message = f"the exchange cannot be reached: {exc}; the request was not acknowledged, retry later (a retry with the same client order id is never applied twice)"
        return JSONResponse(error_body(503, "UNAVAILABLE", message), 503, headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
        return JSONResponse(error_body(422, "VALIDATION_ERROR", "; ".join(parts) or "invalid request"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        return JSONResponse(error_body(exc.status_code, code, message), exc.status_code, headers=exc.headers)
