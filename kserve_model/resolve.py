"""Resolving a model URI to a local artifact folder, through MLflow, with retries."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

from credit_model.model_uri import ModelUriError, is_models_uri, parse_model_uri


@dataclass(frozen=True)
class ModelRef:
    registered_name: str | None
    version: str
    """Registered version number, or "local" for a folder."""
    alias: str | None
    local_dir: Path


def _fetch(uri: str, tracking_uri: str | None, cache_dir: Path) -> ModelRef:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    parsed = parse_model_uri(uri)
    name, alias, version = parsed.name, parsed.alias, parsed.version
    if tracking_uri:
        # models:/ downloads read the process-wide registry URI, whatever is passed here
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if alias:
        version = client.get_model_version_by_alias(name, alias).version
    target = cache_dir / name / str(version)
    done = target / ".complete"
    if not done.exists():  # download once; a restarted container with a warm cache skips it
        target.mkdir(parents=True, exist_ok=True)
        download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(target), tracking_uri=tracking_uri)
        done.touch()
    return ModelRef(registered_name=name, version=str(version), alias=alias, local_dir=target)


def _permanent(exc: Exception) -> bool:
    """Errors no retry will fix: the name, alias or version does not exist."""
    code = getattr(exc, "error_code", "")
    return code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"} or isinstance(exc, ModelUriError)


def resolve_model(
    uri: str,
    tracking_uri: str | None,
    cache_dir: Path,
    deadline_s: float,
    initial_s: float = 0.5,
    max_s: float = 15.0,
) -> ModelRef:
    """A local folder as is; a registry URI downloaded once, retrying with exponential backoff."""
    local = Path(uri)
    if not is_models_uri(uri):
        if not local.is_dir():
            raise ModelUriError(f"model URI {uri!r} is not a models:/ URI and no such folder exists")
        return ModelRef(registered_name=None, version="local", alias=None, local_dir=local)
    parse_model_uri(uri)  # a malformed URI fails at once, not after the retries
    start = time.monotonic()
    delay = initial_s
    attempt = 0
    while True:
        attempt += 1
        try:
            ref = _fetch(uri, tracking_uri, cache_dir)
            log.info("resolved %s to version %s (attempt %d)", uri, ref.version, attempt)
            return ref
        except Exception as e:  # network errors come in many types; classify instead
            if _permanent(e):
                raise
            left = deadline_s - (time.monotonic() - start)
            if left <= 0:
                raise TimeoutError(f"MLflow at {tracking_uri} not reachable for {deadline_s:.0f} s: {e}") from e
            wait = min(delay, left, max_s)
            log.warning("attempt %d to fetch %s from %s failed (%s); retrying in %.1f s", attempt, uri, tracking_uri, _short(e), wait)
            time.sleep(wait)
            delay = min(delay * 2, max_s)


def _short(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:200]
