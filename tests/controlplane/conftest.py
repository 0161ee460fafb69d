"""Session fixture of the `controlplane` tier: a real control plane on loopback (etcd,
kube-apiserver, kube-controller-manager, kube-scheduler), kwok for a fake Node whose pods
become Running/Ready, and KServe's controller manager with its webhooks on https://127.0.0.1.

The binaries come from scripts/controlplane-build.sh (`make test` and .ci/run build them first);
when they are missing the tier fails, it never skips. KServe's CRDs, its inferenceservice-config
ConfigMap and its webhook configurations are read from the KServe module the manager was built
from (the Go module cache), so they always match the binary."""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from . import cp

KSERVE_VERSION = "v0.20.0"  # tools/controlplane/kserve/go.mod
TRAINER_VERSION = "v2.3.0"  # tools/controlplane/trainer/go.mod
JOBSET_VERSION = "v0.12.0"  # the same go.mod: the version Trainer v2.3.0 requires
# vendored, byte-identical to the module's manifests/base (tests/crds/README.md)
TRAINER_CRDS = cp.REPO / "tests" / "crds" / "kubeflow-trainer-v2.3.0"
# Gateway API v1.5.1: the version KServe v0.20.0 is built against (its go.mod); tests/crds/README.md
GATEWAY_API_CRDS = cp.REPO / "tests" / "crds" / "gateway-api-v1.5.1"
NODE = "kwok-node-0"


@dataclass
class ControlPlane:
    kubeconfig: Path
    server: str
    ca: Path
    workdir: Path
    procs: list
    pki: cp.Pki | None = None

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([str(cp.TOOLS_BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
                           capture_output=True, text=True, input=input, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
        return r

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(cp.TOOLS_BIN / "helm"), "--kubeconfig", str(self.kubeconfig), *args],
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
        return r

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)


class StaticProvisioner:
    """A PersistentVolume for every Pending claim, as a cluster's storage provisioner would make
    (kwok runs no storage): the controller manager's binder then binds it, and the scheduler
    places the pods that mount it (the predictors' audit claim, MLflow's claims)."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane, self.halt, self.made = plane, threading.Event(), set()
        self.thread = threading.Thread(target=self._run, name="static-provisioner", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.halt.wait(1.0):
            done = self.plane.kubectl("get", "pvc", "-A", "-o", "json", check=False)
            if done.returncode != 0:
                continue
            for pvc in json.loads(done.stdout)["items"]:
                ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
                if pvc["status"].get("phase") != "Pending" or (ns, name) in self.made:
                    continue
                self.plane.kubectl("apply", "-f", "-", check=False, input=yaml.safe_dump({
                    "apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": f"pv-{ns}-{name}"[:253]},
                    "spec": {"capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                             "accessModes": pvc["spec"]["accessModes"], "persistentVolumeReclaimPolicy": "Retain",
                             "storageClassName": pvc["spec"].get("storageClassName") or "",
                             "hostPath": {"path": f"/tmp/kwok-pv/{ns}/{name}"},
                             "claimRef": {"namespace": ns, "name": name}}}))
                self.made.add((ns, name))

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(timeout=10)


def _kserve_module() -> Path:
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    path = Path(modcache) / f"github.com/kserve/kserve@{KSERVE_VERSION}"
    if not (path / "config").is_dir():
        pytest.fail(f"{path} is missing: run scripts/controlplane-build.sh (it downloads the module)")
    return path


def _kserve_config(kserve: Path) -> str:
    """KServe's inferenceservice-config as its release ships it, with Standard as the default
    deployment mode and the Gateway API enabled (the chart's standard and gateway modes)."""
    cm = yaml.safe_load((kserve / "config/configmap/inferenceservice.yaml").read_text())
    ingress = json.loads(cm["data"]["ingress"])
    ingress.update(enableGatewayApi=True, kserveIngressGateway="kserve/kserve-ingress-gateway")
    cm["data"]["ingress"] = json.dumps(ingress)
    cm["data"]["deploy"] = json.dumps({"defaultDeploymentMode": "Standard"})
    return yaml.safe_dump(cm)


def _webhooks(kserve: Path, ca: Path, port: int) -> str:
    """KServe's webhook configurations with url clientConfigs to the manager on 127.0.0.1."""
    return _url_webhooks((kserve / "config/webhook/manifests.yaml").read_text(), ca, port)


def _url_webhooks(manifests: str, ca: Path, port: int, prefix: str = "") -> str:
    """The webhook configurations of `manifests` (other kinds dropped), their service
    clientConfigs turned into urls to a manager on 127.0.0.1:`port`, names prefixed."""
    import base64
    bundle = base64.b64encode(ca.read_bytes()).decode()
    docs = [d for d in yaml.safe_load_all(manifests)
            if d and d["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")]
    for doc in docs:
        doc["metadata"]["name"] = prefix + doc["metadata"]["name"]
        for hook in doc.get("webhooks", []):
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": bundle}
    return yaml.safe_dump_all(docs)


@pytest.fixture(scope="session")
def controlplane(tmp_path_factory) -> ControlPlane:
    missing = cp.missing_binaries()
    if missing:
        pytest.fail(f"control-plane binaries missing in {cp.BIN}: {missing}; run scripts/controlplane-build.sh")
    for tool in ("kubectl", "helm"):
        if not (cp.TOOLS_BIN / tool).is_file():
            pytest.fail(f"{cp.TOOLS_BIN / tool} missing: run scripts/fetch-tools.sh helm")
    work = tmp_path_factory.mktemp("controlplane")
    logs = work / "logs"
    logs.mkdir()
    pki = cp.Pki(work / "pki")
    api_crt, api_key = pki.leaf("apiserver", "kube-apiserver", server=True)
    admin = pki.leaf("admin", "admin", orgs=("system:masters",))
    hook_dir = work / "tmp" / "k8s-webhook-server" / "serving-certs"  # controller-runtime's default CertDir
    hook_dir.mkdir(parents=True)
    crt, key = pki.leaf("webhook", "kserve-webhook", server=True)
    (hook_dir / "tls.crt").write_bytes(crt.read_bytes())
    (hook_dir / "tls.key").write_bytes(key.read_bytes())
    sa_key, sa_pub = pki.service_account_keys()
    procs: list[cp.Proc] = []
    provisioner: StaticProvisioner | None = None
    try:
        etcd_port, peer_port = cp.free_port(), cp.free_port()
        etcd = cp.spawn("etcd", [
            "etcd", "--data-dir", str(work / "etcd"), "--unsafe-no-fsync",
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
            "--listen-metrics-urls", f"http://127.0.0.1:{cp.free_port()}"], logs)
        procs.append(etcd)
        cp.wait_until("etcd /health", lambda: cp.http_ok(f"http://127.0.0.1:{etcd_port}/health"), 60, etcd)

        api_port = cp.free_port()
        server = f"https://127.0.0.1:{api_port}"
        api = cp.spawn("kube-apiserver", [
            "kube-apiserver", f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
            f"--tls-cert-file={api_crt}", f"--tls-private-key-file={api_key}", f"--client-ca-file={pki.ca}",
            "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}", "--authorization-mode=Node,RBAC",
            "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
            f"--cert-dir={work / 'apiserver-certs'}"], logs)
        procs.append(api)
        cp.wait_until("kube-apiserver /readyz", lambda: cp.https_ok(f"{server}/readyz", pki.ca, admin), 120, api)
        kc = cp.kubeconfig(work / "kubeconfig", server, pki.ca, *admin)
        plane = ControlPlane(kc, server, pki.ca, work, procs, pki)

        kcm_port = cp.free_port()
        kcm = cp.spawn("kube-controller-manager", [
            "kube-controller-manager", f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}", "--bind-address=127.0.0.1", f"--secure-port={kcm_port}",
            f"--service-account-private-key-file={sa_key}", f"--root-ca-file={pki.ca}",
            "--leader-elect=false", "--use-service-account-credentials=true",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service,-route",
            f"--cert-dir={work / 'kcm-certs'}"], logs)
        procs.append(kcm)
        sched_port = cp.free_port()
        sched = cp.spawn("kube-scheduler", [
            "kube-scheduler", f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}", "--bind-address=127.0.0.1", f"--secure-port={sched_port}",
            "--leader-elect=false", f"--cert-dir={work / 'sched-certs'}"], logs)
        procs.append(sched)
        kwok = cp.spawn("kwok", [
            "kwok", f"--kubeconfig={kc}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.244.0.0/16", "--node-ip=10.0.0.1",
            f"--server-address=127.0.0.1:{cp.free_port()}"], logs)
        procs.append(kwok)
        cp.wait_until("kube-controller-manager /healthz",
                      lambda: cp.insecure_ok(f"https://127.0.0.1:{kcm_port}/healthz"), 120, kcm)
        cp.wait_until("kube-scheduler /healthz",
                      lambda: cp.insecure_ok(f"https://127.0.0.1:{sched_port}/healthz"), 120, sched)
        plane.kubectl("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"type": "kwok", "kubernetes.io/os": "linux", "kubernetes.io/hostname": NODE}},
            "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "64", "memory": "256Gi", "pods": "110"}}}))
        cp.wait_until("kwok node Ready", lambda: plane.kubectl(
            "wait", "--for=condition=Ready", f"node/{NODE}", "--timeout=5s", check=False).returncode == 0, 120, kwok)
        provisioner = StaticProvisioner(plane)
        # default ServiceAccount exists once the controller manager's serviceaccount controller ran
        cp.wait_until("default ServiceAccount", lambda: plane.kubectl(
            "get", "serviceaccount", "default", check=False).returncode == 0, 60, kcm)

        # CRDs: Gateway API (standard channel) and KServe's, as KServe's release installs them
        kserve = _kserve_module()
        plane.kubectl("apply", "--server-side", "-f", str(GATEWAY_API_CRDS))
        for kustomization in ("config/crd", "config/crd/full/localmodel"):  # as config/default does
            plane.kubectl("apply", "--server-side", "-k", str(kserve / kustomization))
        plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        plane.kubectl("create", "namespace", "kserve")
        plane.kubectl("apply", "-f", "-", input=_kserve_config(kserve))

        hook_port = cp.free_port()
        probe_port = cp.free_port()
        mgr = cp.spawn("kserve-manager", [
            "manager", f"--webhook-port={hook_port}", f"--metrics-addr=127.0.0.1:{cp.free_port()}",
            f"--health-probe-addr=127.0.0.1:{probe_port}", "--leader-elect=false"], logs,
            env={"KUBECONFIG": str(kc), "POD_NAMESPACE": "kserve", "TMPDIR": str(work / "tmp")})
        procs.append(mgr)
        cp.wait_until("KServe manager /readyz", lambda: cp.http_ok(f"http://127.0.0.1:{probe_port}/readyz"), 180, mgr)
        cp.wait_until("KServe webhook TLS handshake", lambda: cp.tls_ready(hook_port, pki.ca), 60, mgr)
        plane.kubectl("apply", "-f", "-", input=_webhooks(kserve, pki.ca, hook_port))
        yield plane
    finally:
        if provisioner is not None:
            provisioner.stop()
        cp.stop_all(procs)


def _module(path: str, version: str) -> Path:
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    root = Path(modcache) / f"{path}@{version}"
    if not (root / "go.mod").is_file():
        pytest.fail(f"{root} is missing: run scripts/controlplane-build.sh (it downloads the module)")
    return root


def _start_manager(plane: ControlPlane, name: str, args: list[str], config: dict, hook_port: int,
                   probe_port: int, logs: Path) -> cp.Proc:
    """A controller-runtime manager with its webhook server on 127.0.0.1:`hook_port`, serving a
    fixture-made certificate from controller-runtime's default CertDir under its own TMPDIR
    (as the KServe manager does), its config file written from `config`."""
    tmp = plane.workdir / f"{name}-tmp"
    certs = tmp / "k8s-webhook-server" / "serving-certs"
    certs.mkdir(parents=True)
    crt, key = plane.pki.leaf(f"{name}-webhook", f"{name}-webhook", server=True)
    (certs / "tls.crt").write_bytes(crt.read_bytes())
    (certs / "tls.key").write_bytes(key.read_bytes())
    config_file = plane.workdir / f"{name}-config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    proc = cp.spawn(name, [*args, f"--config={config_file}"], logs,
                    env={"KUBECONFIG": str(plane.kubeconfig), "TMPDIR": str(tmp)})
    plane.procs.append(proc)
    cp.wait_until(f"{name} /readyz", lambda: cp.http_ok(f"http://127.0.0.1:{probe_port}/readyz"), 180, proc)
    cp.wait_until(f"{name} webhook TLS handshake", lambda: cp.tls_ready(hook_port, plane.ca), 60, proc)
    return proc


@pytest.fixture(scope="session")
def trainer(controlplane: ControlPlane) -> ControlPlane:
    """Kubeflow Trainer's controller manager and the JobSet controller on the control plane, with
    their webhooks (served by the managers on 127.0.0.1 with fixture-made certificates; their
    own cert management is off, as both offer by configuration), Trainer's and JobSet's CRDs and
    Trainer's torch-distributed ClusterTrainingRuntime. Webhook configurations and JobSet's CRD
    are read from the modules the binaries were built from, the Trainer CRDs and runtime from
    tests/crds (the same bytes)."""
    plane = controlplane
    logs = plane.workdir / "logs"
    trainer_mod = _module("github.com/kubeflow/trainer/v2", TRAINER_VERSION)
    jobset_mod = _module("sigs.k8s.io/jobset", JOBSET_VERSION)
    # the bare CRD: JobSet's kustomization adds a conversion webhook to an in-cluster Service,
    # which a CRD with one version (v1alpha2) never calls
    plane.kubectl("apply", "--server-side", "-f", str(jobset_mod / "config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml"))
    for crd in sorted(TRAINER_CRDS.glob("trainer.kubeflow.org_*.yaml")):
        plane.kubectl("apply", "--server-side", "-f", str(crd))
    plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

    # JobSet first: Trainer's controller creates JobSets, which JobSet's webhooks default
    hook_port, probe_port = cp.free_port(), cp.free_port()
    _start_manager(plane, "jobset", ["jobset"], {
        "apiVersion": "config.jobset.x-k8s.io/v1alpha1", "kind": "Configuration",
        "webhook": {"port": hook_port, "host": "127.0.0.1"},
        "metrics": {"bindAddress": "0"},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{probe_port}"},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False}}, hook_port, probe_port, logs)
    hooks = plane.kubectl("kustomize", str(jobset_mod / "config/components/webhook")).stdout
    plane.kubectl("apply", "-f", "-", input=_url_webhooks(hooks, plane.ca, hook_port, prefix="jobset-"))

    hook_port, probe_port = cp.free_port(), cp.free_port()
    _start_manager(plane, "trainer-controller-manager", ["trainer-controller-manager"], {
        "apiVersion": "config.trainer.kubeflow.org/v1alpha1", "kind": "Configuration",
        "webhook": {"port": hook_port, "host": "127.0.0.1"},
        "metrics": {"bindAddress": "0", "secureServing": False},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{probe_port}"},
        "leaderElection": {"leaderElect": False},
        "certManagement": {"enable": False}}, hook_port, probe_port, logs)
    hooks = plane.kubectl("kustomize", str(trainer_mod / "manifests/base/webhook")).stdout
    plane.kubectl("apply", "-f", "-", input=_url_webhooks(hooks, plane.ca, hook_port))
    plane.kubectl("apply", "-f", str(TRAINER_CRDS / "runtime-torch-distributed.yaml"))
    return plane
