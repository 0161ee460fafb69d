"""A real Kubernetes control plane on loopback for the `controlplane` tier: certificates, the
processes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, KServe's
controller manager) and readiness waits. Binaries come from scripts/controlplane-build.sh."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.procs import free_port, stop

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("CONTROLPLANE_DIR", REPO / ".tools" / "controlplane")) / "bin"
TOOLS_BIN = REPO / ".tools" / "bin"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "manager",
            "trainer-controller-manager", "jobset")


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not (BIN / b).is_file()]


# --- certificates -------------------------------------------------------------------------

def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Pki:
    """A CA and the leaf certificates signed by it, written as PEM files under `root`."""
    root: Path
    _ca_key: object = field(init=False, repr=False)
    _ca: x509.Certificate = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "credit-score-test-ca")])
        self._ca = (self._builder(name, name, self._ca_key.public_key())
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .sign(self._ca_key, hashes.SHA256()))
        self.ca.write_bytes(self._ca.public_bytes(serialization.Encoding.PEM))

    @property
    def ca(self) -> Path:
        return self.root / "ca.crt"

    @staticmethod
    def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1)))

    def leaf(self, name: str, cn: str, orgs: tuple[str, ...] = (), server: bool = False) -> tuple[Path, Path]:
        """Certificate + key files for `cn` (client auth; server auth for 127.0.0.1/localhost too)."""
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        usages = [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
        b = self._builder(x509.Name(attrs), self._ca.subject, key.public_key())
        if server:
            usages.append(x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False).sign(self._ca_key, hashes.SHA256())
        crt, keyf = self.root / f"{name}.crt", self.root / f"{name}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyf.write_bytes(_pem_key(key))
        return crt, keyf

    def service_account_keys(self) -> tuple[Path, Path]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        priv, pub = self.root / "sa.key", self.root / "sa.pub"
        priv.write_bytes(_pem_key(key))
        pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
        return priv, pub


def kubeconfig(path: Path, server: str, ca: Path, crt: Path, key: Path) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: cp, cluster: {{server: "{server}", certificate-authority: "{ca}"}}}}]
users: [{{name: admin, user: {{client-certificate: "{crt}", client-key: "{key}"}}}}]
contexts: [{{name: cp, context: {{cluster: cp, user: admin, namespace: default}}}}]
current-context: cp
""")
    return path


# --- processes ----------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    proc: subprocess.Popen
    log: Path

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def spawn(name: str, args: list[str], logdir: Path, env: dict[str, str] | None = None) -> Proc:
    log = logdir / f"{name}.log"
    proc = subprocess.Popen([str(BIN / args[0]), *args[1:]], stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **(env or {})})
    return Proc(name, proc, log)


def wait_until(what: str, check, timeout: float, proc: Proc | None = None, interval: float = 0.2):
    """Poll `check()` until it returns a truthy value; fail with the process log when it died
    or the time ran out."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode} before {what}:\n{proc.tail()}")
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
        time.sleep(interval)
    log = f"\n{proc.name} log:\n{proc.tail()}" if proc else ""
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s (last error: {last}){log}")


def https_ok(url: str, ca: Path, cert: tuple[Path, Path] | None = None) -> bool:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
        return r.status == 200


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200


def insecure_ok(url: str) -> bool:
    """A component's own serving cert is self-signed: only its /healthz status matters here."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
        return r.status == 200


def tls_ready(port: int, ca: Path) -> bool:
    """True once a server on 127.0.0.1:port completes a TLS handshake with a cert from `ca`."""
    import socket
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        with ctx.wrap_socket(sock, server_hostname="127.0.0.1"):
            return True


def stop_all(procs: list[Proc]) -> None:
    for p in reversed(procs):
        stop(p.proc)


__all__ = ["BIN", "TOOLS_BIN", "Pki", "Proc", "free_port", "http_ok", "https_ok", "insecure_ok", "kubeconfig",
           "missing_binaries", "spawn", "stop_all", "tls_ready", "wait_until"]
