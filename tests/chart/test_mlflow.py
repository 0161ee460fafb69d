"""The MLflow tracking server: real `mlflow server` options, allowed hosts MLflow's own check
accepts, stores and credentials by values, and no MLflow at all when disabled."""

from __future__ import annotations

import pytest

from .support import NAMESPACE, by_kind, env_of, one, pod_views, render_ci

pytestmark = pytest.mark.chart

SVC = "demo-credit-score-mlflow"


def mlflow_container(values: str = "default-values.yaml", *sets: str) -> dict:
    dep = one(render_ci(values, *sets), "Deployment")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def arg(container: dict, flag: str) -> str | None:
    args = container["args"]
    return args[args.index(flag) + 1] if flag in args else None


def parse_with_mlflow(container: dict):
    """Parse the rendered command line with MLflow's own click command (no server started)."""
    from mlflow.cli import server

    assert container["command"] == ["mlflow", "server"]
    return server.make_context("server", list(container["args"]))


def test_args_are_real_mlflow_server_options(tools):
    ctx = parse_with_mlflow(mlflow_container())
    p = ctx.params
    assert p["host"] == "0.0.0.0" and p["port"] == 5000 and str(p["workers"]) == "1"
    assert p["serve_artifacts"] is True
    assert p["artifacts_destination"] == "/mlflow/artifacts"
    assert p["backend_store_uri"] == "sqlite:////mlflow/data/mlflow.db"


def test_allowed_hosts_pass_mlflows_own_host_check(tools):
    from mlflow.server.security_utils import is_allowed_host_header

    allowed = arg(mlflow_container(), "--allowed-hosts").split(",")
    for name in (SVC, f"{SVC}.{NAMESPACE}", f"{SVC}.{NAMESPACE}.svc", f"{SVC}.{NAMESPACE}.svc.cluster.local", "localhost", "127.0.0.1"):
        for host in (name, f"{name}:5000"):
            assert is_allowed_host_header(allowed, host), host
    for host in ("evil.example.com", f"{SVC}.other", f"{SVC}:5001"):
        assert not is_allowed_host_header(allowed, host), host
    extra = arg(mlflow_container("default-values.yaml", "mlflow.extraAllowedHosts[0]=mlflow.example.com"), "--allowed-hosts")
    assert is_allowed_host_header(extra.split(","), "mlflow.example.com")


def test_workers_and_extra_args(tools):
    c = mlflow_container("default-values.yaml", "mlflow.workers=2", "mlflow.extraArgs[0]=--expose-prometheus", "mlflow.extraArgs[1]=/tmp/metrics")
    p = parse_with_mlflow(c).params
    assert str(p["workers"]) == "2" and p["expose_prometheus"] == "/tmp/metrics"


def test_image_defaults_to_the_train_image_and_can_be_overridden(tools):
    assert mlflow_container()["image"] == "credit-score-train:0.1.0"
    assert mlflow_container("default-values.yaml", "mlflow.image.repository=ghcr.io/mlflow/mlflow", "mlflow.image.tag=v3.17.2")["image"] == "ghcr.io/mlflow/mlflow:v3.17.2"


def test_writable_home_and_tmp(tools):
    c = mlflow_container()
    env = env_of(c)
    assert env["HOME"] == "/tmp" and c["workingDir"] == "/tmp"
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp", "/mlflow/data", "/mlflow/artifacts"}


def test_default_storage_is_kept_pvcs_for_mlflow_and_the_audit_trail(tools):
    objects = render_ci("default-values.yaml")
    pvcs = {p["metadata"]["name"]: p for p in by_kind(objects, "PersistentVolumeClaim")}
    assert set(pvcs) == {"demo-credit-score-mlflow-data", "demo-credit-score-mlflow-artifacts", "demo-credit-score-audit"}
    for p in pvcs.values():
        assert p["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    dep = one(objects, "Deployment")
    assert dep["spec"]["strategy"] == {"type": "Recreate"} and dep["spec"]["replicas"] == 1


def test_postgres_backend_from_an_existing_secret(tools):
    objects = render_ci("postgres-values.yaml")
    (c,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--backend-store-uri" not in c["args"]  # MLflow reads MLFLOW_BACKEND_STORE_URI
    assert env_of(c)["MLFLOW_BACKEND_STORE_URI"] == {"secret": "mlflow-postgres", "key": "uri"}
    assert [p["metadata"]["name"] for p in by_kind(objects, "PersistentVolumeClaim")
            if "mlflow" in p["metadata"]["name"]] == ["demo-credit-score-mlflow-artifacts"]
    parse_with_mlflow(c)


def test_s3_artifacts_from_an_existing_secret(tools):
    objects = render_ci("s3-values.yaml")
    (c,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert arg(c, "--artifacts-destination") == "s3://credit-score-artifacts/mlflow"
    env = env_of(c)
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio.storage.svc.cluster.local:9000"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] == {"secret": "mlflow-s3", "key": "AWS_ACCESS_KEY_ID"}
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secret": "mlflow-s3", "key": "AWS_SECRET_ACCESS_KEY"}
    assert [p["metadata"]["name"] for p in by_kind(objects, "PersistentVolumeClaim")
            if "mlflow" in p["metadata"]["name"]] == ["demo-credit-score-mlflow-data"]
    assert parse_with_mlflow(c).params["serve_artifacts"] is True


def test_basic_auth(tools):
    objects = render_ci("auth-values.yaml")
    (c,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert parse_with_mlflow(c).params["app_name"] == "basic-auth"
    env = env_of(c)
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/etc/mlflow/auth/basic_auth.ini"
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == {"secret": "mlflow-admin", "key": "username"}
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == {"secret": "mlflow-admin", "key": "password"}
    # without a static Flask secret key `mlflow server --app-name basic-auth` refuses to start
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == {"secret": "mlflow-admin", "key": "flask-secret-key"}
    (cm,) = [m for m in by_kind(objects, "ConfigMap") if m["metadata"]["name"].endswith("-mlflow-auth")]
    ini = cm["data"]["basic_auth.ini"]
    assert "database_uri = sqlite:////mlflow/data/basic_auth.db" in ini and "password" not in ini
    # every MLflow client of the chart authenticates
    for pod in pod_views(objects):
        for where, container in pod.containers():
            env = env_of(container)
            if "MLFLOW_TRACKING_URI" in env and "mlflow" not in where:
                assert env["MLFLOW_TRACKING_PASSWORD"] == {"secret": "mlflow-admin", "key": "password"}, where


def test_auth_ini_is_read_by_mlflow(tools, tmp_path, monkeypatch):
    """MLflow's own reader of the auth config accepts the rendered file. (Loaded by path: the
    mlflow.server.auth package itself needs Flask-WTF, i.e. `mlflow[auth]`, which the server
    image must carry but this test environment need not.)"""
    import importlib.util

    import mlflow

    spec = importlib.util.spec_from_file_location("mlflow_auth_config", f"{mlflow.__path__[0]}/server/auth/config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    read_auth_config = module.read_auth_config

    (cm,) = [m for m in by_kind(render_ci("auth-values.yaml"), "ConfigMap") if m["metadata"]["name"].endswith("-mlflow-auth")]
    path = tmp_path / "basic_auth.ini"
    path.write_text(cm["data"]["basic_auth.ini"])
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "from-the-secret")
    config = read_auth_config()
    assert config.default_permission == "READ" and config.admin_password == "from-the-secret"


def test_mlflow_disabled(tools):
    objects = render_ci("mlflow-disabled-values.yaml")
    assert not [o for o in objects if o["metadata"]["labels"]["app.kubernetes.io/component"] == "mlflow"]
    for pod in pod_views(objects):
        for where, c in pod.containers():
            env = env_of(c)
            if "MLFLOW_TRACKING_URI" in env:
                assert env["MLFLOW_TRACKING_URI"] == "https://mlflow.example.com", where


def test_network_policy_extra_sources(tools):
    np = [n for n in by_kind(render_ci("auth-values.yaml"), "NetworkPolicy") if n["metadata"]["name"] == SVC][0]
    peers = np["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "notebooks"}}} in peers
    assert np["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert not by_kind(render_ci("default-values.yaml", "networkPolicy.enabled=false"), "NetworkPolicy")

