"""The KServe model: wiring between the v2 protocol and the scoring engine.

Loading resolves and downloads the registered version, verifies the artifact, warms up, and
only then sets `ready`. Decoding, scoring and metrics live in their own modules.
"""

from __future__ import annotations

import gc
import json
import logging
import random
import sqlite3
import time

import numpy as np
from kserve import Model
from kserve.errors import InferenceError, ModelNotReady
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from kserve.utils.utils import generate_uuid

from credit_model.artifact import NETWORK_PLATFORM, ArtifactError, read_artifact
from credit_model.audit_record import canonical_rows, sha256_text, utc_now
from credit_model.engine import ScoredBatch, ScoringEngine
from credit_model.model_uri import ModelUriError
from kserve_model import routes
from kserve_model.routes import VersionNotServed
from kserve_model.audit_log import AuditLog, AuditUnavailable
from kserve_model.drift_monitor import DriftWindow, drift_metrics
from kserve_model.metrics import LATENCY, REQUEST_ERRORS, REQUESTS, credit_metrics, decision_log
from kserve_model.request import RequestError, decode_request, decode_v1
from kserve_model.resolve import ModelRef, resolve_model
from kserve_model.settings import ServeSettings
from kserve_model.spec_route import publish

log = logging.getLogger(__name__)

NUMERIC_INPUT_TYPE = "FP64"
OUTPUTS = (
    ("probability_of_default", "FP32"),
    ("score", "INT32"),
    ("decision", "BYTES"),
    ("reason_codes", "BYTES"),
)
HEADER_NAME, HEADER_VERSION, HEADER_DIGEST = "x-model-name", "x-model-version", "x-artifact-digest"
HEADER_REQUEST_ID = "x-request-id"
"""The audit record's key: the gateway's request id, else the v2 request id, else a new one (returned)."""


class CreditScoreModel(Model):
    def __init__(self, settings: ServeSettings) -> None:
        super().__init__(settings.model_name, return_response_headers=True)
        self.settings = settings
        self.engine: ScoringEngine | None = None
        self.ref: ModelRef | None = None
        self.load_error: str | None = None
        self.identity: dict[str, str] = {}
        self.ready_seconds: float | None = None
        self.audit: AuditLog | None = None
        self.drift: DriftWindow | None = None
        decision_log(settings.decision_log_size).names.add(settings.model_name)

    # -- lifecycle -------------------------------------------------------------------------
    def load(self) -> bool:
        started = time.perf_counter()
        s = self.settings
        try:
            ref = resolve_model(s.model_uri, s.tracking_uri, s.cache_dir, s.load_deadline_seconds,
                                s.retry_initial_seconds, s.retry_max_seconds)
            engine = ScoringEngine(read_artifact(ref.local_dir), threads=s.threads)
            engine.score(_baseline_columns(engine))  # warm-up: first real request pays nothing extra
            self.audit = self._open_audit()
        except (ArtifactError, ModelUriError, TimeoutError, OSError, sqlite3.Error) as e:
            return self._not_ready(f"{type(e).__name__}: {e}")
        except Exception as e:  # an MLflow answer such as "alias not found": still no crash loop
            return self._not_ready(f"{type(e).__name__}: {e}")
        self.ref, self.engine = ref, engine
        # what answered: on every response (headers and parameters) and the spec route
        self.identity = {HEADER_NAME: ref.registered_name or self.name, HEADER_VERSION: ref.version,
                         HEADER_DIGEST: f"sha256:{engine.artifact.digest}"}
        self.ready_seconds = time.perf_counter() - started
        self._announce()
        log.info("model %s ready: %s -> version %s, artifact sha256:%s (%.2f s)", self.name, s.model_uri,
                 ref.version, engine.artifact.digest[:12], self.ready_seconds)
        self.ready = True
        gc.freeze()  # what loading made lives as long as the process: no collection walks it again
        return True

    def _open_audit(self) -> AuditLog | None:
        s = self.settings
        if not s.audit:
            log.warning("model %s: AUDIT is off, decisions are not recorded", self.name)
            return None
        audit = AuditLog(s.audit_dir, retention_days=s.audit_retention_days, max_file_mb=s.audit_max_file_mb,
                         group_commit_ms=s.audit_group_commit_ms)
        log.info("model %s: every decision is committed to %s before it is answered", self.name, audit.path)
        return audit

    def _announce(self) -> None:
        """Metrics info series, the drift window and the published spec of the loaded version."""
        credit_metrics().model_loaded(self.name, self.ref.version, self.engine.artifact.digest)
        reference = self.engine.spec.reference
        if reference is not None:  # a schema-1 artifact has none: no drift figures
            self.drift = drift_metrics().windows.setdefault(
                (self.name, self.ref.version), DriftWindow(reference, self.settings.drift_window_seconds))
        publish(self.name, self.engine.spec, self.identity)

    def _not_ready(self, message: str) -> bool:
        self.load_error = routes.LOAD_ERRORS[self.name] = message
        self.ready = False
        log.error("model %s NOT READY, serving 503 until restarted: %s", self.name, message)
        return False

    # -- protocol --------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """The registered version served, once loaded: the v2 metadata's `versions`, and the
        only one the versioned routes answer for."""
        return [self.ref.version] if self.ref is not None and self.engine is not None else []

    def metadata_identity(self) -> dict:
        return {"versions": self.versions(), "platform": NETWORK_PLATFORM}

    def get_input_types(self) -> list[dict]:
        if self.engine is None:
            return []
        return [
            {"name": f.name, "datatype": "BYTES" if f.kind == "categorical" else NUMERIC_INPUT_TYPE, "shape": [-1]}
            for f in self.engine.spec.features
        ]

    def get_output_types(self) -> list[dict]:
        return [{"name": name, "datatype": dtype, "shape": [-1]} for name, dtype in OUTPUTS]

    async def predict(self, payload: InferRequest | dict, headers: dict | None = None,
                      response_headers: dict | None = None) -> InferResponse | dict:
        engine, ref = self.engine, self.ref
        if engine is None or ref is None or not self.ready:
            raise ModelNotReady(self.name, self.load_error or "still loading")
        started = time.perf_counter()
        v1 = not isinstance(payload, InferRequest)  # KServe's v1 route hands over the parsed JSON body
        if not v1 and payload.model_version and payload.model_version != ref.version:
            # gRPC's model_version (REST's versioned routes check theirs in routes.check_version)
            raise VersionNotServed(self.name, payload.model_version, self.versions())
        try:
            if v1:
                columns = decode_v1(payload, engine.spec.features, self.settings.max_batch_rows)
            else:
                columns = decode_request(payload, engine.spec.features, self.settings.max_batch_rows)
        except RequestError as e:
            REQUEST_ERRORS.labels(self.name, ref.version, e.input_name or "").inc()
            REQUESTS.labels(self.name, ref.version, "invalid").inc()
            raise
        try:
            _inject_faults(self.settings)
            batch = engine.score(columns)
        except Exception:
            REQUESTS.labels(self.name, ref.version, "error").inc()
            raise
        seconds = time.perf_counter() - started
        request_id = (headers or {}).get(HEADER_REQUEST_ID) or (None if v1 else payload.id) or generate_uuid()
        if self.audit is not None:
            try:
                await self.audit.append(self._audit_rows(request_id, columns, batch, seconds))
            except AuditUnavailable as e:
                REQUESTS.labels(self.name, ref.version, "error").inc()
                self._not_ready(str(e))
                raise ModelNotReady(self.name, str(e)) from e
        REQUESTS.labels(self.name, ref.version, "ok").inc()
        LATENCY.labels(self.name, ref.version).observe(seconds)
        credit_metrics().observe(self.name, ref.version, batch.score, batch.probability_of_default, batch.decision)
        if self.drift is not None:
            self.drift.observe(columns, batch.score)
        if self.settings.decision_log_size:
            decision_log().record(request_id, ref.version, batch.decision.tolist())
        identity = self.identity
        if response_headers is not None:
            response_headers.update(identity)
            response_headers[HEADER_REQUEST_ID] = request_id
        if v1:
            return {"predictions": _v1_predictions(batch)}
        return InferResponse(
            response_id=payload.id or request_id,
            model_name=self.name,
            model_version=ref.version,
            infer_outputs=_outputs(batch, payload.use_binary_outputs if payload.from_grpc else None),
            parameters={"registered_model": identity[HEADER_NAME], "registered_version": ref.version,
                        "artifact_digest": identity[HEADER_DIGEST], "request_id": request_id},
            use_binary_outputs=payload.use_binary_outputs,
            requested_outputs=payload.request_outputs,
        )

    async def explain(self, payload: dict, headers: dict | None = None) -> dict:
        """v1 `:explain`: the reason codes are this model's explanation, so it answers as
        `:predict` does (recorded like any answer that carries a decision). KServe's default
        would forward to an explainer service and, without one, answer 501."""
        return await self.predict(payload, headers)

    def _audit_rows(self, request_id: str, columns: dict[str, np.ndarray], batch: ScoredBatch,
                    seconds: float) -> list[tuple]:
        """One record per row, in credit_model.audit_record.COLUMNS order."""
        names = [f.name for f in self.engine.spec.features]
        texts = canonical_rows(columns, names)
        keep = self.settings.audit_inputs
        now, model, version, digest = utc_now(), self.identity[HEADER_NAME], self.ref.version, self.engine.artifact.digest
        pd_, points = batch.probability_of_default.tolist(), batch.score.tolist()
        decisions, reasons, ms = batch.decision.tolist(), batch.reason_codes.tolist(), seconds * 1000.0
        return [(request_id, i, now, model, version, digest, sha256_text(text), text if keep else None,
                 pd_[i], points[i], decisions[i], reasons[i], ms) for i, text in enumerate(texts)]


def _inject_faults(s: ServeSettings) -> None:
    """Testing aids FAULT_DELAY_MS / FAULT_ERROR_RATE (both off by default)."""
    if s.fault_delay_ms:
        time.sleep(s.fault_delay_ms / 1000.0)
    if s.fault_error_rate and random.random() < s.fault_error_rate:
        raise InferenceError(f"injected fault (FAULT_ERROR_RATE={s.fault_error_rate:g})")


def _outputs(batch: ScoredBatch, grpc_binary: bool | None) -> list[InferOutput]:
    n = len(batch.score)
    data = {
        "probability_of_default": batch.probability_of_default,
        "score": batch.score,
        "decision": batch.decision,
        "reason_codes": batch.reason_codes,
    }
    outputs = [InferOutput(name=name, shape=[n], datatype=dtype, data=data[name]) for name, dtype in OUTPUTS]
    if grpc_binary is not None:
        # KServe's to_grpc() tests `output.data` for truth, which fails on a numpy array:
        # serialise here (raw bytes when the client sent raw inputs, typed contents otherwise).
        for out in outputs:
            out.set_data_from_numpy(out.data, binary_data=grpc_binary)
    return outputs


def _v1_predictions(batch: ScoredBatch) -> list[dict]:
    """The four outputs as one object per row (reason codes as a list, not JSON text)."""
    return [{"probability_of_default": p, "score": s, "decision": d, "reason_codes": json.loads(r)}
            for p, s, d, r in zip(batch.probability_of_default.tolist(), batch.score.tolist(),
                                  batch.decision.tolist(), batch.reason_codes.tolist(), strict=True)]


def _baseline_columns(engine: ScoringEngine) -> dict[str, np.ndarray]:
    return {
        f.name: np.array([f.baseline], dtype=np.float64 if f.kind == "numeric" else object)
        for f in engine.spec.features
    }
