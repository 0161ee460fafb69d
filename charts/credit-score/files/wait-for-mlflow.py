# Init container: wait until the MLflow tracking server answers GET /health.
# Environment: MLFLOW_TRACKING_URI, WAIT_SECONDS. Standard library only.
import os, sys, time, urllib.request

base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
deadline = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "300"))
while True:
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as r:
            if r.status == 200:
                print("mlflow is up at", base, flush=True)
                sys.exit(0)
    except Exception as e:  # refused, DNS not ready yet, 5xx while starting
        last = e
    if time.monotonic() > deadline:
        sys.exit(f"mlflow at {base} did not answer /health in time: {last}")
    time.sleep(3)
