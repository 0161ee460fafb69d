"""What our REST server adds to KServe's: structured error bodies (input, row, expected) for
every 4xx, quiet and explained 503s, the 413 body limit, versioned v2 routes that answer for
the served version, Swagger UI at /docs, the OpenAPI of our bodies and errors, the decisions
route (shadow comparison) and the spec route (forms)."""

from __future__ import annotations

from typing import Any, Union

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from kserve.errors import ModelNotFound, ModelNotReady
from kserve.protocol.rest.v2_datamodels import (InferenceRequest, InferenceResponse, ModelMetadataResponse,
                                                ModelReadyResponse)
from kserve.protocol.rest.v2_endpoints import V2Endpoints

from kserve_model.body import BodyLimit, RequestTooLarge
from kserve_model.kserve_internals import after_kserve_handlers
from kserve_model.metrics import add_decisions_route
from kserve_model.repository import UnloadRefused
from kserve_model.request import RequestError
from kserve_model.schemas import DecisionsBody, ErrorBody, SpecBody, V1Request, V1Response
from kserve_model.settings import DEFAULT_MAX_REQUEST_BYTES
from kserve_model.spec_route import add_spec_route

LOAD_ERRORS: dict[str, str] = {}
"""Why a model is not ready, by name: shown in every 503 so a probe failure explains itself."""

DOCS_PATH, OPENAPI_PATH = "/docs", "/openapi.json"
_limit = {"max_request_bytes": DEFAULT_MAX_REQUEST_BYTES}


class VersionNotServed(ModelNotFound):
    """A ModelNotFound (REST 404, gRPC NOT_FOUND) that says which version is served instead."""

    def __init__(self, model_name: str, version: str, served: list[str]) -> None:
        super().__init__(model_name)
        self.reason = (f"model {model_name} version {version} is not served here; served: "
                       f"{', '.join(served) or 'none yet (loading)'}")


def served_versions(dataplane: Any, model_name: str) -> list[str]:
    """The versions the model says it serves (our model: the registered version it loaded)."""
    model = dataplane.get_model_from_registry(model_name)  # ModelNotFound for an unknown name
    versions = getattr(model, "versions", None)
    return list(versions()) if callable(versions) else []


def check_version(dataplane: Any, model_name: str, version: str) -> None:
    served = served_versions(dataplane, model_name)
    if version not in served:
        raise VersionNotServed(model_name, version, served)


def _error(status: int, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content=ErrorBody(error=message, **fields).model_dump())


async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
    return JSONResponse(status_code=400, content=exc.to_dict())


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's 422 for a body, path or query value it cannot parse: a client error, said plainly
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    if first.get("type") == "json_invalid":
        pos = first["loc"][1] if len(first.get("loc", ())) > 1 else 0
        doc = exc.body if isinstance(exc.body, str) else ""
        line, column = doc.count("\n", 0, pos) + 1, pos - doc.rfind("\n", 0, pos)
        message = (f"request body is not valid JSON: {first.get('ctx', {}).get('error', 'decode error')} "
                   f"at line {line} column {column} (char {pos})")
        return _error(400, message, expected="a JSON object")
    where = ".".join(p for p in loc if p != "body")
    message = f"malformed request: {first.get('msg', 'invalid body')}" + (f" at {where}" if where else "")
    expected = "a v2 inference request (JSON object with 'inputs')" if loc[:1] == ["body"] else "a valid path and query"
    return _error(400, message, input=where or None, expected=expected)


async def _too_large(_: Request, exc: RequestTooLarge) -> JSONResponse:
    return _error(413, exc.detail, expected=f"at most {exc.limit} bytes")


async def _not_ready(_: Request, exc: Exception) -> JSONResponse:
    # KServe's handler logs a traceback per call: a readiness probe every few seconds would
    # bury the one log line that says why the model is not ready.
    reason = LOAD_ERRORS.get(getattr(exc, "model_name", ""), "")
    return _error(503, str(exc) + (f" {reason}" if reason else ""))


async def _not_found(_: Request, exc: ModelNotFound) -> JSONResponse:
    return _error(404, str(exc))


async def _unload_refused(_: Request, exc: UnloadRefused) -> JSONResponse:
    return _error(403, str(exc), input="model_name", expected="no unload: the model is loaded at start")


async def _docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="credit-score predictor: API")


# -- v2 model routes, versioned or not -------------------------------------------------------
# KServe 0.21 answers 501 to /v2/models/{name}/versions/{v}/... and to ?model_version= on the
# plain routes; the metadata lists the served version (the v2 protocol's `versions`), so these
# answer for it and 404 for any other.
def _model_routes(v2: Any) -> list[tuple[str, Any, list[str]]]:
    dataplane = v2.dataplane

    def check(model_name: str, model_version: str | None) -> None:
        if model_version is not None:
            check_version(dataplane, model_name, model_version)

    async def metadata(model_name: str, model_version: str | None = None) -> ModelMetadataResponse:
        check(model_name, model_version)
        return await v2.model_metadata(model_name)

    async def ready(model_name: str, model_version: str | None = None) -> ModelReadyResponse:
        check(model_name, model_version)
        return await v2.model_ready(model_name)

    async def infer(raw_request: Request, raw_response: Response, model_name: str,
                    request_body: Union[InferenceRequest, bytes], model_version: str | None = None):  # noqa: UP007
        check(model_name, model_version)
        return await v2.infer(raw_request, raw_response, model_name, request_body)

    out = []
    for base in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}"):
        out += [(base, metadata, ["GET"]), (f"{base}/ready", ready, ["GET"]), (f"{base}/infer", infer, ["POST"])]
    return out


def _add_model_routes(app: Any, rest_server: Any) -> None:
    """Ahead of KServe's (the first matching route answers): FastAPI keeps included routers
    as units, so KServe's own cannot be taken out one by one."""
    v2 = V2Endpoints(rest_server.dataplane, rest_server.model_repository_extension)
    router = APIRouter(tags=["V2"])
    for path, endpoint, methods in _model_routes(v2):
        router.add_api_route(path, endpoint, methods=methods)
    app.router.routes[:0] = router.routes


# -- OpenAPI ---------------------------------------------------------------------------------
ERRORS: dict[str, tuple[str, ...]] = {
    # path template -> the error statuses it can answer (the README's route table says when)
    "/v2/models/{model_name}/infer": ("400", "404", "413", "503"),
    "/v2/models/{model_name}/versions/{model_version}/infer": ("400", "404", "413", "503"),
    "/v1/models/{model_name}:predict": ("400", "404", "413", "503"),
    "/v1/models/{model_name}:explain": ("400", "404", "413", "503"),
    "/v2/models/{model_name}": ("404",),
    "/v2/models/{model_name}/versions/{model_version}": ("404",),
    "/v2/models/{model_name}/ready": ("404", "503"),
    "/v2/models/{model_name}/versions/{model_version}/ready": ("404", "503"),
    "/v1/models/{model_name}": ("404", "503"),
    "/v2/models/{model_name}/spec": ("404",),
    "/v2/models/{model_name}/decisions": ("400", "404"),
    "/v2/health/ready": ("503",),
    "/v2/repository/models/{model_name}/load": ("404", "503"),
    "/v2/repository/models/{model_name}/unload": ("403", "404"),
}
ERROR_TEXT = {"400": "malformed request: the body names the input, row and what was expected",
              "404": "no such model (or version) on this server", "413": "body over MAX_REQUEST_BYTES",
              "403": "refused: the model is loaded at start, never unloaded on request",
              "503": "the model is not ready; the body says why"}
BODIES = {
    # path template -> (request model, 200 response model) where the route itself declares none
    "/v2/models/{model_name}/infer": (None, InferenceResponse),
    "/v2/models/{model_name}/versions/{model_version}/infer": (None, InferenceResponse),
    "/v1/models/{model_name}:predict": (V1Request, V1Response),
    "/v1/models/{model_name}:explain": (V1Request, V1Response),
    "/v2/models/{model_name}/spec": (None, SpecBody),
    "/v2/models/{model_name}/decisions": (None, DecisionsBody),
}


def _ref(model: type) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_with_errors(app: Any) -> dict:
    """FastAPI's schema of the app plus ErrorBody on every error status, our request and
    response bodies where KServe's routes take a raw Request, and the 400 in place of 422."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title="credit-score predictor (KServe v1/v2)", version=app.version, routes=app.routes,
                         description="KServe v2 Open Inference Protocol (REST; gRPC on its own port) and v1 "
                                     "predict. Every error answers an ErrorBody.")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, V1Request, V1Response, SpecBody, DecisionsBody, InferenceResponse):
        defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(defs.pop("$defs", {}))
        components[model.__name__] = defs
    for path, item in schema.get("paths", {}).items():
        request_model, response_model = BODIES.get(path, (None, None))
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's default; ours is the 400 below
            for status in ERRORS.get(path, ("400",) if "requestBody" in operation or operation.get("parameters") else ()):
                responses[status] = {"description": ERROR_TEXT[status],
                                     "content": {"application/json": {"schema": _ref(ErrorBody)}}}
            if response_model is not None:
                responses.setdefault("200", {"description": "OK"})["content"] = {
                    "application/json": {"schema": _ref(response_model)}}
            if request_model is not None:
                operation["requestBody"] = {"required": True,
                                            "content": {"application/json": {"schema": _ref(request_model)}}}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


def _add_ours(app: Any, rest_server: Any) -> None:
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RequestTooLarge, _too_large)
    app.add_exception_handler(ModelNotReady, _not_ready)
    app.add_exception_handler(ModelNotFound, _not_found)
    app.add_exception_handler(UnloadRefused, _unload_refused)
    app.add_middleware(BodyLimit, max_bytes=_limit["max_request_bytes"])
    _add_model_routes(app, rest_server)
    add_decisions_route(app)
    add_spec_route(app)
    if not any(getattr(r, "path", None) == DOCS_PATH for r in app.router.routes):
        app.add_api_route(DOCS_PATH, _docs, methods=["GET"], include_in_schema=False)
    app.openapi_schema = None
    app.openapi = lambda: openapi_with_errors(app)


def install(max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
    """Idempotent: our handlers and routes go in whenever KServe builds its REST app."""
    _limit["max_request_bytes"] = max_request_bytes
    after_kserve_handlers(_add_ours)
