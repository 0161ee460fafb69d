"""The JSON bodies of our REST routes, as pydantic models: what /openapi.json and /docs show.

KServe's own v2 models (kserve.protocol.rest.v2_datamodels) describe the v2 routes; these
describe what we add or answer ourselves: the error body of every 4xx/5xx, the v1 predict
request and response, the spec route and the decision log.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error answer of the predictor (400, 404, 413, 503, ...)."""

    error: str = Field(description="what is wrong, naming the input and row where there is one",
                       examples=["input 'age_in_years' row 2: expected a value >= 18, got 7.0"])
    input: str | None = Field(None, description="the offending input (v2 input name, feature, `records` or "
                                                "`instances`); null when the request as a whole is wrong")
    row: int | None = Field(None, description="the first offending row (0-based); null when no single row is")
    expected: str | None = Field(None, description="what would have been accepted")


class V1Request(BaseModel):
    """KServe v1 predict body: one object of feature values per row."""

    model_config = ConfigDict(extra="forbid")
    instances: list[dict[str, Any]] = Field(description="feature records: {feature: value}, null where the "
                                                        "feature allows missing values",
                                            examples=[[{"age_in_years": 35, "purpose": "radio/television"}]])


class ReasonCode(BaseModel):
    code: str | None = None
    feature: str | None = None
    reason: str


class V1Prediction(BaseModel):
    probability_of_default: float
    score: int = Field(description="points")
    decision: str = Field(description="decision band, e.g. approve / refer / decline")
    reason_codes: list[ReasonCode] = Field(description="adverse reasons, empty when the decision is not adverse")


class V1Response(BaseModel):
    predictions: list[V1Prediction]


class SpecFeature(BaseModel):
    name: str
    kind: str = Field(description="numeric or categorical")
    dtype: str | None = None
    missing: str | None = Field(None, description="allow: null accepted; otherwise the feature is required")
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    oov: str | None = Field(None, description="what an unseen category does: reject (400) or a bucket")
    code: str | None = None
    reason: str | None = None
    baseline: float | str | None = Field(None, description="the most favourable value (reason-code baseline)")


class SpecBody(BaseModel):
    model_name: str
    features: list[SpecFeature]
    decisions: list[str]
    adverse_decisions: list[str]


class DecisionRecord(BaseModel):
    seq: int
    time: float
    id: str
    model_version: str
    decisions: list[str]


class DecisionsBody(BaseModel):
    model_name: str
    capacity_rows: int
    next: int = Field(description="the cursor to pass as `since` next time")
    records: list[DecisionRecord]
