"""`python -m kserve_model --model-name credit-score --model-uri models:/credit-score@champion ...`"""

from __future__ import annotations

import os
import sys

from pydantic import ValidationError

from kserve_model.settings import SettingsError, parse_settings


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(argv)
    except ValidationError as e:
        print(f"error: invalid serving settings:\n{e}", file=sys.stderr)
        return 2
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Our loop retries MLflow with backoff and logs each attempt; MLflow's own retries would
    # hide an outage for minutes inside a single attempt.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from kserve_model.server import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
