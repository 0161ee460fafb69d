# The two quick-start commands are `make demo` and `make test`; each builds .venv when missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv.lock is the environment (hashes included); scripts/uv.sh installs the uv that
# pyproject.toml's [tool.uv] required-version names into .uv/.
UV := .uv/bin/uv
# Never a Python that uv downloads itself: the machine's 3.11 (requires-python).
export UV_PYTHON_DOWNLOADS := never
# Every tier (unit, integration, chart, containers, controlplane, slow tests included); `cluster`
# skips without a Kubernetes cluster. `make test-unit` is the quick loop.
PYTEST_ARGS ?=

.PHONY: controlplane-bin test-controlplane venv lock uv data repro demo demo-stop test test-unit test-chart test-containers test-ci test-web tools node-tools e2e-kind local-up local-down images docker-stop clean

venv: $(STAMP)

uv:
	@bash scripts/uv.sh >/dev/null

# --locked: a pyproject.toml edit without `make lock` stops here instead of installing a stale
# lock; sync is exact (what the lock does not name is removed from .venv).
$(STAMP): pyproject.toml uv.lock scripts/uv.sh
	@bash scripts/uv.sh >/dev/null
	$(UV) sync --locked --all-extras --python $(PYTHON) --quiet
	@touch $@

# After a dependency change in pyproject.toml: re-resolve, keeping every other locked version.
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions instead.
LOCK_ARGS ?=
lock: uv
	$(UV) lock --python $(PYTHON) $(LOCK_ARGS)

# The DVC-tracked training data (data/*.dvc) from the DVC remote; seeds an empty local store.
data: venv
	@bash scripts/dvc-data.sh

# The dvc.yaml pipeline (train on the DVC-tracked data), with .venv's python on PATH.
repro: data
	$(UV) run --frozen --no-sync dvc repro

demo: venv
	@bash scripts/demo.sh

demo-stop:
	@bash scripts/demo.sh stop

tools:
	@bash scripts/fetch-tools.sh all

# The controlplane tier needs helm/kubectl (.tools/bin) and the Go-built control plane (.tools/controlplane).
test: venv controlplane-bin
	$(PY) -m pytest $(PYTEST_ARGS)

controlplane-bin:
	@bash scripts/fetch-tools.sh helm
	@bash scripts/controlplane-build.sh

test-controlplane: venv controlplane-bin
	$(PY) -m pytest -m controlplane

test-unit: venv
	$(PY) -m pytest -m "not integration and not chart and not containers and not cluster and not controlplane and not slow"

test-chart: venv tools
	$(PY) -m pytest -m chart

test-ci: venv
	$(PY) -m pytest tests/ci

node-tools:
	@bash scripts/fetch-node-tools.sh

# Needs Docker, kind, kubectl and internet access: runs in CI elsewhere (.github/workflows/e2e-kind.yaml).
e2e-kind: venv tools
	@bash scripts/e2e-kind.sh

test-web: venv
	$(PY) -m pytest tests/web

# The whole platform without Kubernetes (Docker Compose): MLflow, training, stable + canary, gateway, web client.
local-up: venv
	@bash scripts/local-up.sh

local-down:
	@bash scripts/local-down.sh

# Both images on a local Debian base (no registry needed); the engine is started when absent.
images:
	@bash scripts/docker-setup.sh >/dev/null
	@bash scripts/docker-base-image.sh
	@BASE_IMAGE=credit-score-base:bookworm bash scripts/docker-build.sh

docker-stop:
	@bash scripts/docker-stop.sh

test-containers: venv
	$(PY) -m pytest -m containers

clean:
	rm -rf .local .pytest_cache build *.egg-info

# The serving benchmark end to end: ours (audit on and off), the echo ceiling, MLServer and
# `mlflow models serve` in one run; wrk and MLServer's own venv are installed first when missing.
# BENCH_ARGS / SOAK_ARGS pass options, e.g. SOAK_ARGS="--seconds 120".
.PHONY: bench soak
BENCH_ARGS ?=
SOAK_ARGS ?=

bench: venv
	@bash scripts/install-wrk.sh >/dev/null
	@bash scripts/mlserver-venv.sh >/dev/null
	$(PY) -m benchmarks.serving $(BENCH_ARGS)

# Our predictor for 60 s at twice its measured nominal rate, valid and invalid requests mixed.
soak: venv
	@bash scripts/install-wrk.sh >/dev/null
	$(PY) -m benchmarks.soak $(SOAK_ARGS)
