"""What our REST server adds to KServe's: structured 400 bodies (input, row, expected), quiet
and explained 503s, the decisions route (shadow comparison) and the spec route (forms)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve.errors import ModelNotReady

from kserve_model.kserve_internals import after_kserve_handlers
from kserve_model.metrics import add_decisions_route
from kserve_model.request import RequestError
from kserve_model.spec_route import add_spec_route

LOAD_ERRORS: dict[str, str] = {}
"""Why a model is not ready, by name: shown in every 503 so a probe failure explains itself."""


async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
    return JSONResponse(status_code=400, content=exc.to_dict())


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's 422 for a body that is not a v2 request: a client error, said plainly
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return JSONResponse(status_code=400, content={
        "error": f"malformed v2 request: {first.get('msg', 'invalid body')}" + (f" at {where}" if where else ""),
        "input": None, "row": None, "expected": "a v2 inference request (JSON object with 'inputs')",
    })


async def _not_ready(_: Request, exc: Exception) -> JSONResponse:
    # KServe's handler logs a traceback per call: a readiness probe every few seconds would
    # bury the one log line that says why the model is not ready.
    reason = LOAD_ERRORS.get(getattr(exc, "model_name", ""), "")
    return JSONResponse(status_code=503, content={"error": str(exc) + (f" {reason}" if reason else "")})


def _add_ours(app: Any) -> None:
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ModelNotReady, _not_ready)
    add_decisions_route(app)
    add_spec_route(app)


def install() -> None:
    """Idempotent: our handlers and routes go in whenever KServe builds its REST app."""
    after_kserve_handlers(_add_ours)
