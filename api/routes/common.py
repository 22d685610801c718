"""What every route does the same way: submit a command and wait for its durable result, ask the
sequencer's hot state, and read the SQL projections off the event loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api import queries
from api.deps import Principal, current_principal
from api.errors import ApiError, raise_for
from api.gateway import Gateway, GatewayUnavailable
from api.queries import InstrumentView
from exchange.commands import Command
from exchange.results import CommandResult

T = TypeVar("T")

PREFIX = "/api/v1"


# REST traffic of this process, by route template (bounded cardinality) and answered status.
HTTP_REQUESTS = Counter(
    "capex_http_requests_total",
    "REST requests answered, by method, route and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "capex_http_request_seconds",
    "REST request handling time (authentication, command, reads)",
    ["route"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class ExchangeRoute(APIRoute):
    """A route that counts what it answered (the sequencer unreachable is a 503, answered by the
    GatewayUnavailable handler of api/errors.py)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route = self.path_format
        methods = ",".join(sorted(self.methods or ()))

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status_code
                return response
            except GatewayUnavailable:
                status = 503  # answered by the app's handler (api/errors.py)
                raise
            except ApiError as exc:
                status = exc.status
                raise
            except RequestValidationError:
                status = 422
                raise
            except HTTPException as exc:
                status = exc.status_code
                raise
            finally:
                HTTP_REQUESTS.labels(methods, route, str(status)).inc()
                HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)

        return guarded


_session = HTTPBearer(
    auto_error=False,
    scheme_name="session",
    description="`Authorization: Bearer <token>` from POST /api/v1/auth/login: every scope",
)
_api_key = APIKeyHeader(
    name="X-Capex-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="A signed request: X-Capex-Key with X-Capex-Timestamp, X-Capex-Nonce and "
    "X-Capex-Signature (HMAC-SHA256, docs/api.md); the key's scopes",
)


async def _documents_authentication(
    _session: Annotated[Any, Security(_session)], _api_key: Annotated[Any, Security(_api_key)]
) -> None:
    """Declares the two ways to authenticate in the OpenAPI document; deps.current_principal is
    what checks them."""


AUTHENTICATED = [Depends(_documents_authentication)]


def make_router(tag: str, authenticated: bool = False) -> APIRouter:
    """A router under /api/v1; `authenticated`: every route needs credentials (documented)."""
    return APIRouter(
        prefix=PREFIX,
        tags=[tag],
        route_class=ExchangeRoute,
        dependencies=AUTHENTICATED if authenticated else None,
    )


async def execute(gateway: Gateway, command: Command) -> CommandResult:
    """The durable result of `command`; a refusal as an ApiError."""
    return raise_for(await gateway.submit(command))


async def ask(gateway: Gateway, name: str, *args: Any) -> Any:
    """A read of the sequencer's hot state (gateway.QUERIES)."""
    return await gateway.query(name, *args)


async def read(db: Session, function: Callable[..., T], *args: Any) -> T:
    """Run a projection read in a worker thread, on a fresh transaction: a command acknowledged
    before this call is visible (its projections were committed with its journal row)."""

    def run() -> T:
        db.rollback()  # ends any earlier read transaction and forgets cached rows
        return function(db, *args)

    return await run_in_threadpool(run)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


async def instrument_or_404(gateway: Gateway, symbol: str) -> InstrumentView:
    instrument = await queries.instrument(gateway, symbol)
    if instrument is None:
        raise not_found("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}")
    return instrument


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.db_engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def session_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Managing credentials needs the web session: an API key can not mint or revoke keys."""
    if principal.via != "session":
        raise ApiError(403, "SESSION_REQUIRED", "this needs a session token (log in), not an API key")
    return principal


SessionPrincipal = Annotated[Principal, Depends(session_principal)]
