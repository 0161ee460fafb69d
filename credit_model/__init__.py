"""The contract between training and serving: the model artifact, the feature transforms,
the scoring maths, the ONNX scoring engine with reason codes, the `models:/` URI grammar and
the metric names. Depends on numpy, pydantic and onnxruntime only; `training_job` writes
artifacts through it, `kserve_model` and `rollout` read through it, and neither imports the
other (tests/unit/test_architecture.py enforces this with import-linter)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
"""The folder an MLflow model version carries as its only `code_paths` entry."""
PYFUNC_FILE = PACKAGE_DIR / "mlflow_pyfunc.py"
"""The pyfunc flavour, logged as "models from code"."""
