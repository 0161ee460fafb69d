"""The web client in a real browser: headless Chromium (Debian's, driven by selenium through
the system chromedriver) against the BFF, a real predictor and a real MLflow server.

Chromium comes from scripts/local-browser-deps.sh (apt-get install chromium chromium-driver);
the test skips, with the script's reason, only when that cannot be done. A screenshot of the
scored applicant lands in .local/screenshots/web-client.png (gitignored).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import CONFIG_000, PROTECTED, QUICK, REPO
from tests.procs import env_with_venv, free_port, mlflow_server, start_predictor, stop, wait_http

pytestmark = [pytest.mark.integration]
MODEL = "web-credit"
SCREENSHOTS = REPO / ".local" / "screenshots"
APPLICANT = json.loads((REPO / "examples" / "applicant.json").read_text())
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                  "--disable-dev-shm-usage", "--window-size=1280,1800"]


@pytest.fixture(scope="module")
def browser_bins() -> dict[str, str]:
    """Paths of chromium and chromedriver, installed by the project's script when missing."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    done = subprocess.run(["bash", str(REPO / "scripts" / "local-browser-deps.sh")], capture_output=True, text=True,
                          timeout=900)
    if done.returncode == 3:
        pytest.skip(f"Chromium cannot be installed here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(line.split("=", 1) for line in done.stdout.split())


@pytest.fixture(scope="module")
def stack(browser_bins, tmp_path_factory):
    """MLflow + a quickly trained, registered model + the predictor + the BFF, all real processes."""
    root = tmp_path_factory.mktemp("web")
    t0 = time.perf_counter()
    with mlflow_server(root / "mlflow") as mlflow:
        t_mlflow = time.perf_counter() - t0
        args = [sys.executable, "-m", "training_job", "--config", str(CONFIG_000), "--tracking-uri", mlflow.url,
                "--experiment", "web", "--set", f"registry.model_name={MODEL}", "--log-level", "WARNING"]
        for o in QUICK:
            args += ["--set", o]
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        t_train = time.perf_counter() - t0 - t_mlflow
        predictor = start_predictor(f"models:/{MODEL}@champion", mlflow.url, root / "pred")
        port = free_port()
        bff_log = root / "bff.log"
        bff = subprocess.Popen(
            [sys.executable, "-m", "examples.client_web"], cwd=REPO, stdout=bff_log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
            env=env_with_venv(PORT=str(port), PREDICTOR_URL=predictor.http, MODEL_NAME="credit-score",
                              ARTIFACT=f"models:/{MODEL}@champion", MLFLOW_TRACKING_URI=mlflow.url,
                              LOG_LEVEL="warning"))
        try:
            wait_http(f"{predictor.http}/v2/models/credit-score/ready", 90, predictor.proc)
            wait_http(f"http://127.0.0.1:{port}/healthz", 60, bff)
            print(f"stack up in {time.perf_counter() - t0:.1f} s (mlflow {t_mlflow:.1f} s, training {t_train:.1f} s)")
            yield {"bff": f"http://127.0.0.1:{port}", "predictor": predictor, "bff_log": bff_log}
        finally:
            stop(bff)
            stop(predictor.proc)


@pytest.fixture(scope="module")
def driver(browser_bins):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser_bins["chromium"]
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(executable_path=browser_bins["chromedriver"]), options=opts)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()


def _wait(driver, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _open_form(driver, url: str) -> None:
    driver.get(url)
    _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") in {"true", "error"})
    assert driver.find_element("tag name", "body").get_attribute("data-ready") == "true", \
        driver.find_element("id", "model-line").text


def _fill(driver, values: dict) -> None:
    from selenium.webdriver.support.ui import Select

    for name, value in values.items():
        el = driver.find_element("id", f"in-{name}")
        if el.tag_name == "select":
            Select(el).select_by_value(str(value))
        else:
            el.clear()
            el.send_keys(str(value))


def test_form_follows_the_model_metadata_and_artifact_spec(stack) -> None:
    form = httpx.get(f"{stack['bff']}/api/form", timeout=30).json()
    meta = httpx.get(f"{stack['predictor'].http}/v2/models/credit-score").json()
    assert [f["name"] for f in form["fields"]] == [i["name"] for i in meta["inputs"]]
    by_name = {f["name"]: f for f in form["fields"]}
    assert "radio/television" in by_name["purpose"]["categories"]
    assert by_name["age_in_years"]["min"] == 18 and by_name["age_in_years"]["kind"] == "numeric"
    assert form["spec_source"] == f"artifact models:/{MODEL}@champion" and form["spec_model_version"] == "1"
    assert set(by_name).isdisjoint(PROTECTED)  # nothing protected is shown or asked for
    assert httpx.get(f"{stack['bff']}/openapi.json").json()["paths"].keys() >= {"/api/form", "/api/score"}
    assert httpx.get(f"{stack['bff']}/docs").status_code == 200


def test_browser_scores_an_applicant_and_shows_the_version(stack, driver) -> None:
    started = time.perf_counter()
    _open_form(driver, stack["bff"])
    assert len(driver.find_elements("css selector", ".field")) == len(APPLICANT)
    _fill(driver, APPLICANT)
    driver.find_element("id", "submit").click()
    _wait(driver, lambda d: d.find_element("id", "result").is_displayed())
    decision = driver.find_element("id", "decision").text
    version = driver.find_element("id", "model-version").text
    digest = driver.find_element("id", "artifact-digest").text
    score = int(driver.find_element("id", "score").text)
    reasons = [li.text for li in driver.find_elements("css selector", "#reasons li")]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "web-client.png"
    driver.find_element("id", "result").location_once_scrolled_into_view
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    # the page shows exactly what the predictor answers for the same applicant
    direct = httpx.post(f"{stack['predictor'].http}/v2/models/credit-score/infer", timeout=30, json={"inputs": [
        {"name": k, "datatype": "BYTES" if isinstance(v, str) else "FP64", "shape": [1], "data": [v]}
        for k, v in APPLICANT.items()]})
    out = {o["name"]: o["data"][0] for o in direct.json()["outputs"]}
    assert decision == out["decision"] and score == out["score"]
    assert version == direct.headers["x-model-version"] == "1"
    assert digest == direct.headers["x-artifact-digest"]
    expected_reasons = [r["reason"] for r in json.loads(out["reason_codes"])]
    assert [r.rsplit(" (", 1)[0] for r in reasons] == expected_reasons
    assert (decision == "approve") == (reasons == [])
    print(f"browser round trip {time.perf_counter() - started:.1f} s; screenshot {shot}")


def test_a_bad_value_shows_the_predictors_error_next_to_its_field(stack, driver) -> None:
    _open_form(driver, stack["bff"])
    _fill(driver, {**APPLICANT, "age_in_years": 7})
    driver.find_element("id", "submit").click()
    err = driver.find_element("id", "err-age_in_years")
    _wait(driver, lambda d: err.is_displayed())
    assert ">= 18" in err.text and "7" in err.text, err.text
    assert "invalid" in driver.find_element("id", "field-age_in_years").get_attribute("class")
    assert not driver.find_element("id", "result").is_displayed()
    others = [e for e in driver.find_elements("css selector", ".field .error") if e.is_displayed()]
    assert others == [err]
    driver.save_screenshot(str(SCREENSHOTS / "web-client-error.png"))
