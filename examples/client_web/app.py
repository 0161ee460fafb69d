"""Backend-for-frontend of the credit-score web client.

The browser talks to this app only; this app talks KServe v2 REST to a predictor (or to a
gateway in front of several). The form is generated at runtime from the predictor's v2
metadata (feature names and datatypes) enriched with the artifact's feature spec
(categories, ranges, reason texts; see spec_source.py), so a new model with new features
needs no change here.

Settings: examples/client_web/settings.py (PREDICTOR_URL, MODEL_NAME, ARTIFACT, ... or the
same as flags; `python -m examples.client_web --help` lists them).

Run: `python -m examples.client_web` (from the repository root; HOST/PORT, default 127.0.0.1:8000)
API docs: /docs (Swagger UI), /openapi.json.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from examples.client_web.settings import Settings
from examples.client_web.spec_source import CachedSpec, SpecSource, spec_source_from_settings

STATIC = Path(__file__).parent / "static"
NUMERIC = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}


# -- API models (what /docs shows) ---------------------------------------------------------
class FormField(BaseModel):
    name: str = Field(description="feature name = v2 input name")
    label: str = Field(description="human-readable label")
    datatype: str = Field(description="v2 datatype from the predictor's metadata (FP64, BYTES, ...)")
    kind: str = Field(description="numeric or categorical")
    integer: bool = False
    min: float | None = None
    max: float | None = None
    categories: list[str] = Field(default_factory=list, description="allowed values (from the artifact spec); empty = free text")
    required: bool = True
    example: float | str | None = Field(None, description="the model's reference (most favourable) value")
    hint: str | None = None


class FormSpec(BaseModel):
    model_name: str
    predictor_url: str
    metadata_versions: list[str] = Field(default_factory=list)
    spec_source: str = Field(description="where categories and ranges came from, or why they are missing")
    spec_model_version: str | None = None
    spec_artifact_digest: str | None = None
    fields: list[FormField]
    outputs: list[str]


class ScoreRequest(BaseModel):
    values: dict[str, float | int | str | None] = Field(
        description="one value per feature; empty string or null = missing",
        examples=[{"age_in_years": 35, "purpose": "radio/television"}])


class Reason(BaseModel):
    code: str | None = None
    feature: str | None = None
    reason: str


class ModelIdentity(BaseModel):
    name: str | None = Field(None, description="x-model-name")
    version: str | None = Field(None, description="x-model-version: the registered version that answered")
    artifact_digest: str | None = Field(None, description="x-artifact-digest")


class ScoreResult(BaseModel):
    probability_of_default: float
    score: int = Field(description="score in points")
    decision: str = Field(description="decision band: approve / refer / decline")
    reasons: list[Reason] = Field(description="adverse reasons in plain language (empty when approved)")
    model: ModelIdentity


class FieldError(BaseModel):
    error: str
    input: str | None = Field(None, description="the feature the predictor names; the page shows the error next to it")
    row: int | None = None
    expected: str | None = None


class Problem(BaseModel):
    error: str
    status: int | None = None


def humanize(name: str) -> str:
    text = re.sub(r"[_\s]+", " ", name).strip()
    return text[:1].upper() + text[1:]


def create_app(settings: Settings | None = None, spec_source: SpecSource | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or Settings()
    spec = CachedSpec(spec_source or spec_source_from_settings(
        settings.artifact, settings.mlflow_tracking_uri, settings.predictor_url, settings.model_name),
        ttl_s=settings.spec_ttl_seconds)
    model_url = f"{settings.predictor_url}/v2/models/{settings.model_name}"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.client = httpx.AsyncClient(timeout=settings.predictor_timeout_seconds, transport=transport)
        try:
            yield
        finally:
            await app.state.client.aclose()

    app = FastAPI(title="credit-score web client (BFF)", version="1",
                  description="Backend-for-frontend of the credit-score web page: builds the form from the "
                              "model's KServe v2 metadata and artifact spec, and scores through v2 REST infer.",
                  lifespan=lifespan)
    app.state.settings = settings

    async def predictor_get(request: Request, url: str) -> httpx.Response:
        try:
            return await request.app.state.client.get(url)
        except httpx.HTTPError as e:
            raise HTTPException(502, f"predictor {settings.predictor_url} unreachable: {type(e).__name__}") from e

    cached_meta: dict[str, Any] = {"body": None, "until": 0.0}

    async def metadata(request: Request, refresh: bool = False) -> dict:
        """The v2 metadata, cached for METADATA_TTL_SECONDS: a score is one infer call, so a
        weighted gateway sees only infer calls from us (no metadata call in between)."""
        now = time.monotonic()
        if not refresh and cached_meta["body"] is not None and now < cached_meta["until"]:
            return cached_meta["body"]
        r = await predictor_get(request, model_url)
        if r.status_code != 200:
            raise HTTPException(502 if r.status_code != 503 else 503,
                                f"predictor metadata {model_url} answered {r.status_code}: {_error_text(r)}")
        cached_meta.update(body=r.json(), until=now + settings.metadata_ttl_seconds)
        return cached_meta["body"]

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz", summary="liveness of the BFF itself")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/api/form", response_model=FormSpec, responses={502: {"model": Problem}, 503: {"model": Problem}},
             summary="the form: one field per model input (v2 metadata) with categories and ranges (artifact spec)")
    async def form(request: Request, refresh: bool = False) -> FormSpec:
        meta = await metadata(request, refresh=refresh)
        loaded = spec.get(refresh=refresh)
        fields = []
        for inp in meta.get("inputs", []):
            name, datatype = inp["name"], inp.get("datatype", "BYTES")
            h = loaded.hints.get(name)
            kind = h.kind if h and h.kind else ("numeric" if datatype in NUMERIC else "categorical")
            bits = []
            if h and h.min is not None:
                bits.append(f"≥ {h.min:g}")
            if h and h.max is not None:
                bits.append(f"≤ {h.max:g}")
            if h and h.dtype == "int":
                bits.append("whole number")
            fields.append(FormField(
                name=name, label=humanize(name), datatype=datatype, kind=kind,
                integer=bool(h and h.dtype == "int") or datatype.startswith(("INT", "UINT")),
                min=h.min if h else None, max=h.max if h else None,
                categories=h.categories if h else [], required=not (h and h.missing_allowed),
                example=h.example if h else None, hint=", ".join(bits) or None))
        return FormSpec(model_name=meta.get("name", settings.model_name), predictor_url=settings.predictor_url,
                        metadata_versions=[str(v) for v in meta.get("versions") or []], spec_source=loaded.source,
                        spec_model_version=loaded.model_version, spec_artifact_digest=loaded.artifact_digest,
                        fields=fields, outputs=[o["name"] for o in meta.get("outputs", [])])

    @app.post("/api/score", response_model=ScoreResult,
              responses={400: {"model": FieldError, "description": "the predictor's validation error, naming the input"},
                         502: {"model": Problem}, 503: {"model": Problem}},
              summary="score one applicant through the predictor's v2 REST infer")
    async def score(body: ScoreRequest, request: Request):
        meta = await metadata(request)
        inputs = []
        for inp in meta.get("inputs", []):
            name, datatype = inp["name"], inp.get("datatype", "BYTES")
            value = body.values.get(name)
            if isinstance(value, str) and value.strip() == "":
                value = None
            if value is not None and datatype in NUMERIC:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    return JSONResponse({"error": f"input '{name}': expected a number, got {value!r}", "input": name,
                                         "row": 0, "expected": "a number"}, status_code=400)
            elif value is not None:
                value = str(value)
            inputs.append({"name": name, "datatype": datatype, "shape": [1], "data": [value]})
        try:
            r = await request.app.state.client.post(f"{model_url}/infer", json={"inputs": inputs})
        except httpx.HTTPError as e:
            raise HTTPException(502, f"predictor {settings.predictor_url} unreachable: {type(e).__name__}") from e
        if r.status_code == 400:
            err = _json(r)
            return JSONResponse({"error": err.get("error") or r.text[:500], "input": err.get("input"),
                                 "row": err.get("row"), "expected": err.get("expected")}, status_code=400)
        if r.status_code != 200:
            raise HTTPException(503 if r.status_code == 503 else 502, f"predictor answered {r.status_code}: {_error_text(r)}")
        out = {o["name"]: o["data"] for o in r.json().get("outputs", [])}
        params = r.json().get("parameters") or {}
        reasons = json.loads(out["reason_codes"][0]) if out.get("reason_codes") else []
        return ScoreResult(
            probability_of_default=float(out["probability_of_default"][0]), score=int(out["score"][0]),
            decision=str(out["decision"][0]),
            reasons=[Reason(**x) if isinstance(x, dict) else Reason(reason=str(x)) for x in reasons],
            model=ModelIdentity(name=r.headers.get("x-model-name") or params.get("registered_model"),
                                version=r.headers.get("x-model-version") or params.get("registered_version"),
                                artifact_digest=r.headers.get("x-artifact-digest") or params.get("artifact_digest")))

    @app.exception_handler(HTTPException)
    async def problem(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "status": exc.status_code}, status_code=exc.status_code)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _json(r: httpx.Response) -> dict:
    try:
        body = r.json()
        return body if isinstance(body, dict) else {}
    except ValueError:
        return {}


def _error_text(r: httpx.Response) -> str:
    body = _json(r)
    return str(body.get("error") or body.get("detail") or r.text[:300])


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory examples.client_web.app:app_from_env`."""
    return create_app(Settings())
