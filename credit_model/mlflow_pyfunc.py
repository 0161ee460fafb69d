"""MLflow pyfunc flavour of the credit model, logged as "models from code" (no pickle).

Lets generic MLflow tooling (`mlflow models serve`, `mlflow.pyfunc.load_model`) score with the
same engine as the KServe predictor. MLflow executes this file when the model is loaded, with
this package on sys.path (the model's only `code_paths`); nothing in the package imports it,
so the contract itself needs neither mlflow nor pandas.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from credit_model.artifact import MLFLOW_ARTIFACT_KEY, read_artifact
from credit_model.engine import ScoringEngine
from credit_model.frames import frame_to_columns


class CreditScorePyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 (mlflow's type)
        self.engine = ScoringEngine(read_artifact(Path(context.artifacts[MLFLOW_ARTIFACT_KEY])))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
        batch = self.engine.score(frame_to_columns(model_input, self.engine.spec.features))
        return pd.DataFrame(
            {
                "probability_of_default": batch.probability_of_default,
                "score": batch.score,
                "decision": batch.decision,
                "reason_codes": batch.reason_codes,
            }
        )


mlflow.models.set_model(CreditScorePyfunc())
