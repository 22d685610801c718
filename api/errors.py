"""One JSON error shape everywhere: `{"error": {"status", "code", "message"}}`.

`code` is machine-readable (UPPER_SNAKE); `message` is for people. Sequencer refusals keep their
results.ResultCode name as `code`; the HTTP status follows the code's stage (see `status_for`).
A request that fails changes nothing: the sequencer refuses before it mutates, and the API checks
shape, authentication and limits before it submits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.gateway import GatewayUnavailable, OutcomeUnknown
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


UNAVAILABLE = "UNAVAILABLE"
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"


def unavailable_answer(exc: GatewayUnavailable) -> tuple[str, str]:
    """(code, message) of an unreachable sequencer, over REST (503) and the WebSocket alike:
    UNAVAILABLE when nothing was applied, OUTCOME_UNKNOWN when a command was handed over and no
    result came back (it may have been applied)."""
    if isinstance(exc, OutcomeUnknown):
        return OUTCOME_UNKNOWN, (
            f"the exchange did not confirm the request ({exc}): it may or may not have been applied. "
            "Retry an order with the same client order id: if it was applied you get its first "
            "result, and it is never applied twice. For anything else, look at your orders, "
            "balances or positions before you repeat it"
        )
    return UNAVAILABLE, f"the exchange cannot be reached ({exc}); nothing was applied, retry later"


def validation_message(errors: Sequence[Any]) -> str:
    """`field: what is wrong` for the first five errors of a pydantic validation, `; `-joined:
    the one wording of a malformed field, over REST (422 VALIDATION_ERROR) and the WebSocket
    (BAD_REQUEST). The location names the field as the client wrote it (`body` is left out; a
    union's branch names, which pydantic adds, are left out too)."""
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body" and not _is_branch(p))
        message = str(err.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def _is_branch(part: Any) -> bool:
    """pydantic names a union's branch in the location (`int`, `str`, `constrained-str`,
    `function-after[...]`): not a field the client wrote."""
    return isinstance(part, str) and (
        part in ("int", "str", "bool", "none") or "[" in part or part.startswith("constrained-")
    )


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
        code, message = unavailable_answer(exc)
        return JSONResponse(error_body(503, code, message), 503, headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(422, "VALIDATION_ERROR", validation_message(exc.errors())), 422)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # A defect of ours: logged with its traceback by the server (Starlette re-raises it after
        # this answer), answered in the one shape without internals.
        message = (
            "an internal error of the server (it was logged); whether a command was applied is "
            "unknown: look it up, or retry an order with the same client order id"
        )
        return JSONResponse(error_body(500, "INTERNAL_ERROR", message), 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        if exc.status_code == 400:
            # FastAPI's only 400: a body its JSON reader refused
            message = "the body could not be read as JSON (malformed, or a number of more than 4,300 digits)"
        return JSONResponse(error_body(exc.status_code, code, message), exc.status_code, headers=exc.headers)
