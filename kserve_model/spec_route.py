"""GET /v2/models/{name}/spec: the served feature spec, for clients that build forms from it.

KServe's v2 metadata has no room for allowed categories, ranges or reason texts; this route
publishes them (not the fitted transform parameters, which hold training quantiles).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from credit_model.artifact import ArtifactSpec

PUBLIC_FIELDS = ("name", "kind", "dtype", "missing", "min", "max", "categories", "oov", "code", "reason", "baseline")
_published: dict[str, tuple[dict, dict[str, str]]] = {}


def publish(model_name: str, spec: ArtifactSpec, headers: dict[str, str]) -> None:
    features = [{k: getattr(f, k) for k in PUBLIC_FIELDS} for f in spec.features]
    body = {"model_name": model_name, "features": features,
            "decisions": [b.name for b in spec.scoring.bands], "adverse_decisions": spec.scoring.adverse_decisions}
    _published[model_name] = (body, dict(headers))


async def spec_endpoint(model_name: str) -> JSONResponse:
    if model_name not in _published:
        return JSONResponse(status_code=404, content={"error": f"no loaded model {model_name} here"})
    body, headers = _published[model_name]
    return JSONResponse(content=body, headers=headers)


def add_spec_route(app) -> None:  # noqa: ANN001 (FastAPI)
    app.add_api_route("/v2/models/{model_name}/spec", spec_endpoint, methods=["GET"])
