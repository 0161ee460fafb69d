# Init container of Standard-mode predictors, named `storage-initializer` on purpose: KServe
# injects its own storage initializer into a predictor with STORAGE_URI and skips it when the
# pod already has one. KServe's downloader does not know `models:/` URIs, so this check takes
# its place: it resolves the registered version or alias in MLflow, retrying while MLflow
# starts or the training Job has not registered it yet, and fails with a clear message at the
# deadline. The model server downloads the artifact itself.
# Environment: MODEL_URI, MLFLOW_TRACKING_URI (+ credentials), WAIT_SECONDS.
import os, sys, time

from credit_model.model_uri import ModelUriError, parse_model_uri

uri = os.environ["MODEL_URI"]
try:
    parsed = parse_model_uri(uri)
except ModelUriError as e:
    sys.exit(f"MODEL_URI: {e}")
name, version, alias = parsed.name, parsed.version, parsed.alias
from mlflow import MlflowClient

client = MlflowClient()
deadline = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "300"))
while True:
    try:
        mv = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
        print(f"{uri} -> {mv.name} version {mv.version} (run {mv.run_id}, status {mv.status})", flush=True)
        sys.exit(0)
    except Exception as e:  # MLflow still starting, or the version/alias not registered yet
        reason = getattr(e, "message", None) or repr(e)
    if time.monotonic() > deadline:
        sys.exit(f"could not resolve {uri} in MLflow at {os.environ.get('MLFLOW_TRACKING_URI')}: {reason}")
    print(f"waiting for {uri}: {reason}", flush=True)
    time.sleep(10)
