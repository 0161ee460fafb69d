"""Score one applicant (a JSON object of features) with a v2 REST call and print the answer.

    python scripts/score_applicant.py [--url http://127.0.0.1:8080] [--model credit-score] [examples/applicant.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx


def v2_request(applicant: dict) -> dict:
    inputs = []
    for name, value in applicant.items():
        if isinstance(value, str):
            inputs.append({"name": name, "datatype": "BYTES", "shape": [1], "data": [value]})
        else:
            inputs.append({"name": name, "datatype": "FP64", "shape": [1], "data": [value]})
    return {"inputs": inputs}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("applicant", nargs="?", default=str(Path(__file__).parents[1] / "examples" / "applicant.json"))
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--model", default="credit-score")
    args = p.parse_args()
    applicant = json.loads(Path(args.applicant).read_text())
    r = httpx.post(f"{args.url}/v2/models/{args.model}/infer", json=v2_request(applicant), timeout=30)
    if r.status_code != 200:
        print(f"HTTP {r.status_code}: {r.text}", file=sys.stderr)
        return 1
    out = {o["name"]: o["data"][0] for o in r.json()["outputs"]}
    print(f"model           {r.headers.get('x-model-name')} version {r.headers.get('x-model-version')} "
          f"({r.headers.get('x-artifact-digest', '')[:19]}…)")
    print(f"PD              {out['probability_of_default']:.3f}")
    print(f"score           {out['score']} points")
    print(f"decision        {out['decision']}")
    for reason in json.loads(out["reason_codes"]):
        print(f"reason          {reason['code']} {reason['reason']} ({reason['feature']} = {applicant.get(reason['feature'])!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
