#!/usr/bin/env bash
# The quick start: a local MLflow server, training on the embedded data, the champion served
# on KServe v2, one applicant scored. `scripts/demo.sh stop` stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=.local/demo
MLFLOW_PORT=${MLFLOW_PORT:-5000}
HTTP_PORT=${HTTP_PORT:-8080}
GRPC_PORT=${GRPC_PORT:-8081}
PY=.venv/bin/python
TRACKING="http://127.0.0.1:${MLFLOW_PORT}"
mkdir -p "$DEMO"

stop_pid() { # stop a process group started by this script
  local file="$DEMO/$1.pid"
  if [[ -f $file ]]; then
    local pid
    pid=$(cat "$file")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$file"
  fi
}

if [[ ${1:-} == stop ]]; then
  stop_pid predictor
  stop_pid mlflow
  echo "demo stopped (data kept in $DEMO; delete it for a fresh start)"
  exit 0
fi

wait_for() { # url seconds what
  printf 'waiting for %s ' "$3"
  for _ in $(seq 1 "$2"); do
    if curl -sf -o /dev/null "$1"; then echo " up"; return 0; fi
    printf '.'; sleep 1
  done
  echo " gave up after $2 s"; return 1
}

if curl -sf -o /dev/null "$TRACKING/health"; then
  echo "MLflow already answers on $TRACKING: using it"
else
  echo "starting MLflow on $TRACKING (SQLite + artifacts under $DEMO/mlflow)"
  mkdir -p "$DEMO/mlflow"
  setsid .venv/bin/mlflow server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$PWD/$DEMO/mlflow/mlflow.db" \
    --artifacts-destination "$PWD/$DEMO/mlflow/artifacts" --serve-artifacts \
    >"$DEMO/mlflow.log" 2>&1 &
  echo $! >"$DEMO/mlflow.pid"
  wait_for "$TRACKING/health" 120 "MLflow" || { tail -20 "$DEMO/mlflow.log"; exit 1; }
fi

echo; echo "== training config/models-configs/model_config_000.yaml (German credit, embedded)"
$PY -m training_job --config config/models-configs/model_config_000.yaml --tracking-uri "$TRACKING" --log-level WARNING

echo; echo "== serving models:/credit-score@champion on :$HTTP_PORT (REST) and :$GRPC_PORT (gRPC)"
stop_pid predictor
setsid $PY -m kserve_model --model-name credit-score --model-uri models:/credit-score@champion \
  --tracking-uri "$TRACKING" --http-port "$HTTP_PORT" --grpc-port "$GRPC_PORT" \
  --cache-dir "$PWD/$DEMO/model-cache" --audit-dir "$PWD/$DEMO/audit" >"$DEMO/predictor.log" 2>&1 &
echo $! >"$DEMO/predictor.pid"
wait_for "http://127.0.0.1:$HTTP_PORT/v2/models/credit-score/ready" 120 "the predictor" || { tail -20 "$DEMO/predictor.log"; exit 1; }

echo; echo "== scoring examples/applicant.json over v2 REST"
$PY scripts/score_applicant.py --url "http://127.0.0.1:$HTTP_PORT"

echo; echo "== the decision on record (committed before the answer left the predictor)"
$PY -m audit query --dir "$DEMO/audit" --limit 5

cat <<TXT

Where to look:
  MLflow UI        $TRACKING  (experiment credit-score, model credit-score: runs, plots, model card)
  v2 metadata      curl http://127.0.0.1:$HTTP_PORT/v2/models/credit-score
  v2 infer         POST http://127.0.0.1:$HTTP_PORT/v2/models/credit-score/infer   (gRPC on :$GRPC_PORT)
  metrics          curl http://127.0.0.1:$HTTP_PORT/metrics | grep credit_score
  audit records    $PY -m audit query --dir $DEMO/audit [--request-id ID] [--since 2026-12-01] [--format jsonl]
                   $PY -m audit export --dir $DEMO/audit --parquet decisions.parquet
  logs             $DEMO/mlflow.log  $DEMO/predictor.log
Stop with: make demo-stop
TXT
