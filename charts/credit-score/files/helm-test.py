# `helm test`: the stable predictor is ready on the Open Inference Protocol (v2) and scores one
# applicant (first row of the German credit data). Standard library only.
# Environment: BASE_URL, MODEL_NAME, SAMPLE (JSON object feature -> value).
import json, os, sys, urllib.error, urllib.request

base, model = os.environ["BASE_URL"].rstrip("/"), os.environ["MODEL_NAME"]
sample = json.loads(os.environ["SAMPLE"])


def call(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:  # 4xx/5xx: report the answer, not a traceback
        sys.exit(f"{req.get_method()} {path} answered {e.code}: {e.read()[:500]!r}")


def tensor(name, value):
    if isinstance(value, str):
        return {"name": name, "datatype": "BYTES", "shape": [1], "data": [value]}
    if isinstance(value, int):
        return {"name": name, "datatype": "INT64", "shape": [1], "data": [value]}
    return {"name": name, "datatype": "FP64", "shape": [1], "data": [float(value)]}


for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{model}/ready"):
    status, _, _ = call(path)
    assert status == 200, f"GET {path} answered {status}"
    print(f"GET {path}: {status}")

status, headers, body = call(f"/v2/models/{model}/infer", {"id": "helm-test", "inputs": [tensor(k, v) for k, v in sample.items()]})
outputs = {o["name"]: o["data"] for o in body.get("outputs", [])}
missing = {"probability_of_default", "score", "decision", "reason_codes"} - outputs.keys()
if status != 200 or missing:
    sys.exit(f"infer answered {status}, missing outputs {sorted(missing)}: {body}")
pd_ = outputs["probability_of_default"][0]
assert 0.0 <= pd_ <= 1.0, f"probability_of_default {pd_} is not a probability"
version = {k.lower(): v for k, v in headers.items()}.get("x-model-version", "?")
print(f"scored: pd={pd_:.4f} score={outputs['score'][0]} decision={outputs['decision'][0]} model version={version}")
