# Init container: download the training data file, optionally verifying its sha256.
# Environment: DATA_URL, DATA_SHA256 (may be empty), DATA_PATH. Standard library only.
import hashlib, os, sys, urllib.request

url, want, path = os.environ["DATA_URL"], os.environ.get("DATA_SHA256", "").lower(), os.environ["DATA_PATH"]
digest, tmp = hashlib.sha256(), path + ".part"
with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
    for chunk in iter(lambda: r.read(1 << 20), b""):
        digest.update(chunk)
        f.write(chunk)
got = digest.hexdigest()
if want and got != want:
    os.remove(tmp)
    sys.exit(f"sha256 mismatch for {url}: got {got}, want {want}")
os.replace(tmp, path)
print(f"downloaded {url} -> {path} ({os.path.getsize(path)} bytes, sha256 {got})", flush=True)
