"""MLflow pyfunc flavour of the credit model, logged as "models from code" (no pickle).

Lets generic MLflow tooling (`mlflow models serve`, `mlflow.pyfunc.load_model`, MLServer's MLflow
runtime) score with the same engine as the KServe predictor. MLflow executes this file when the
model is loaded, with this package on sys.path (the model's only `code_paths`); nothing in the
package imports it, so the contract itself needs neither mlflow nor pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from credit_model.artifact import MLFLOW_ARTIFACT_KEY, FeatureSpec, read_artifact
from credit_model.engine import ScoringEngine
from credit_model.frames import frame_to_columns

# numpy kinds whose only missing value is NaN: float, signed and unsigned int, bool
_PLAIN_NUMERIC = frozenset("fiub")


def frame_columns(frame: pd.DataFrame, features: Sequence[FeatureSpec]) -> dict[str, np.ndarray]:
    """frame_to_columns, the same arrays, without its pandas conversions where a column needs none.

    Those conversions (to_numpy with an na_value, isna, astype(str), per column) cost several
    times the engine's own time on a one-row request. A plain numpy numeric column is already
    what encode takes once cast to float64, and a text column of str only (what MLflow's schema
    enforcement hands over for a `string` input without missing values) is already its object
    array. Any other column (missing values, nullable or categorical dtypes, non-str values)
    goes through frame_to_columns itself, so the two cannot disagree."""
    out: dict[str, np.ndarray] = {}
    for f in features:
        values = frame[f.name].to_numpy()
        if f.kind == "numeric" and values.dtype.kind in _PLAIN_NUMERIC:
            out[f.name] = values.astype(np.float64)
        elif f.kind != "numeric" and values.dtype == object and all(type(v) is str for v in values):
            out[f.name] = values.copy()
        else:
            out.update(frame_to_columns(frame, [f]))
    return out


class CreditScorePyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 (mlflow's type)
        self.engine = ScoringEngine(read_artifact(Path(context.artifacts[MLFLOW_ARTIFACT_KEY])))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
        batch = self.engine.score(frame_columns(model_input, self.engine.spec.features))
        return pd.DataFrame(
            {
                "probability_of_default": batch.probability_of_default,
                "score": batch.score,
                "decision": batch.decision,
                "reason_codes": batch.reason_codes,
            }
        )


mlflow.models.set_model(CreditScorePyfunc())
