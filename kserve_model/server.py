"""Starting KServe's ModelServer with our model. Imports kserve.model_server, which parses
sys.argv at import time: only __main__ imports this module, after setting sys.argv."""

from __future__ import annotations

import logging
import threading

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kserve_model.request import RequestError
from kserve_model.settings import ServeSettings

log = logging.getLogger(__name__)
_installed = False


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
    from kserve_model.model import LOAD_ERRORS

    reason = LOAD_ERRORS.get(getattr(exc, "model_name", ""), "")
    return JSONResponse(status_code=503, content={"error": str(exc) + (f" {reason}" if reason else "")})


def _add_ours(app) -> None:  # noqa: ANN001 (FastAPI)
    from kserve.errors import ModelNotReady

    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ModelNotReady, _not_ready)
    from kserve_model.metrics import add_decisions_route

    add_decisions_route(app)  # shadow comparison: recent decisions by request id
    from kserve_model.spec_route import add_spec_route

    add_spec_route(app)  # categories, ranges and reason texts for form-building clients


def install_error_handlers() -> None:
    """Structured 400 bodies (input, row, expected) and quiet, explained 503s.

    KServe registers its own handlers on its FastAPI app when the REST server starts (in the
    parent, or in each worker process), replacing any registered earlier for the same
    exception types; so ours are added right after KServe's, wherever that happens.
    """
    global _installed
    if _installed:
        return
    from kserve.protocol.rest.server import RESTServer

    original = RESTServer._add_exception_handlers

    def add_then_ours(self, app) -> None:  # noqa: ANN001
        original(self, app)
        _add_ours(app)

    RESTServer._add_exception_handlers = add_then_ours
    _installed = True


def _route_our_logs_like_kserve() -> None:
    """Our modules log through KServe's configured handlers (same format, same stream)."""
    from kserve.logging import logger as kserve_logger

    ours = logging.getLogger("kserve_model")
    ours.setLevel(kserve_logger.level or logging.INFO)
    for handler in kserve_logger.handlers:
        ours.addHandler(handler)
    ours.propagate = False


def serve(settings: ServeSettings) -> None:
    from kserve.model_server import ModelServer

    from kserve_model.model import CreditScoreModel

    install_error_handlers()
    model = CreditScoreModel(settings)
    server = ModelServer(http_port=settings.http_port, grpc_port=settings.grpc_port, workers=settings.workers,
                         enable_latency_logging=False)
    _route_our_logs_like_kserve()  # after ModelServer(): it configures KServe's logging
    server.register_model(model)
    if settings.workers > 1:
        model.load()  # worker processes get a copy of the model as it is when they start
    else:
        # the server answers live (and 503 not-ready) while the model loads or MLflow is down
        threading.Thread(target=model.load, name="model-loader", daemon=True).start()
    server.start([])
