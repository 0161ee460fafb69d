"""MLflow pyfunc flavour of the credit model, logged as "models from code" (no pickle).

Lets generic MLflow tooling (`mlflow models serve`, `mlflow.pyfunc.load_model`) score with the
same engine as the KServe predictor. Executed by MLflow when the model is loaded; the
training job logs this file, it is not imported by the server.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "credit_model"


class CreditScorePyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 (mlflow's type)
        from kserve_model.engine import ScoringEngine
        from training_job.artifact import read_artifact

        self.engine = ScoringEngine(read_artifact(Path(context.artifacts[ARTIFACT_KEY])))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
        from training_job.features import frame_to_columns

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
