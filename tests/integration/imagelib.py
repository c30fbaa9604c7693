"""Test images and a real registry: builds OCI images of a busybox-static
root filesystem in Python (tar layers, sha256 digests, config, manifest),
runs Debian's docker-registry on loopback with its own config and storage,
and pushes to it with plain registry API requests (POST/PUT uploads, PUT
manifest). Also writes OCI image layouts and `docker save` archives."""
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

BUSYBOX = "/bin/busybox"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(entries):
    """entries: (name, kind, payload) with kind file|dir|symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind in ("dir", "dir777"):
                ti.type, ti.mode = tarfile.DIRTYPE, 0o777 if kind == "dir777" else 0o755
                t.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(payload), 0o755 if name.startswith("bin/") else 0o644
                t.addfile(ti, io.BytesIO(payload))
    return buf.getvalue()


class Image:
    """Layers (uncompressed tars), gzipped blobs, config and manifest."""

    def __init__(self, layers, cmd=("/bin/sh", "-c", "echo hello from the image"), env=("IMAGE_VAR=1",),
                 workdir="/srv", entrypoint=None, user=""):
        self.tars = layers
        self.blobs = {}
        self.layers = []
        for t in layers:
            gz = gzip.compress(t, mtime=0)
            d = sha(gz)
            self.blobs[d] = gz
            self.layers.append({"mediaType": MT_LAYER_GZ, "digest": d, "size": len(gz)})
        config = {"Cmd": list(cmd), "Env": ["PATH=/bin"] + list(env), "WorkingDir": workdir, "User": user}
        if entrypoint is not None:
            config["Entrypoint"] = list(entrypoint)
        self.config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layers]},
        }).encode()
        self.config_digest = sha(self.config)
        self.blobs[self.config_digest] = self.config
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": self.config_digest, "size": len(self.config)},
            "layers": self.layers,
        }).encode()
        self.digest = sha(self.manifest)

    def oci_layout_tar(self, name):
        entries = [("oci-layout", "file", b'{"imageLayoutVersion":"1.0.0"}')]
        index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [{
            "mediaType": MT_MANIFEST, "digest": self.digest, "size": len(self.manifest),
            "annotations": {"org.opencontainers.image.ref.name": name}}]}
        entries.append(("index.json", "file", json.dumps(index).encode()))
        entries.append(("blobs", "dir", None))
        entries.append(("blobs/sha256", "dir", None))
        for d, data in list(self.blobs.items()) + [(self.digest, self.manifest)]:
            entries.append(("blobs/sha256/" + d[7:], "file", data))
        return _tar(entries)

    def docker_save_tar(self, tag):
        entries, names = [], []
        for i, t in enumerate(self.tars):
            entries.append((f"l{i}", "dir", None))
            entries.append((f"l{i}/layer.tar", "file", t))
            names.append(f"l{i}/layer.tar")
        entries.append(("config.json", "file", self.config))
        entries.append(("manifest.json", "file", json.dumps(
            [{"Config": "config.json", "RepoTags": [tag], "Layers": names}]).encode()))
        return _tar(entries)


def busybox_without_shell_layers():
    """One layer: busybox with echo and cat links, and no /bin/sh at all."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    return [_tar([("bin", "dir", None), ("bin/busybox", "file", bb), ("bin/echo", "symlink", "busybox"),
                  ("bin/cat", "symlink", "busybox"), ("etc", "dir", None),
                  ("etc/marker", "file", b"no shell here\n")])]


def busybox_layers(marker="base"):
    """Layer 1: busybox and its links, a file to be whited out, a dir to be
    made opaque. Layer 2: a whiteout, an opaque dir, a new file."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    base = _tar([("bin", "dir", None), ("bin/busybox", "file", bb)]
                + [(f"bin/{n}", "symlink", "busybox") for n in ("sh", "echo", "cat", "ls", "sleep", "id")]
                + [("etc", "dir", None), ("etc/gone", "file", b"whited out\n"),
                   ("opaque", "dir", None), ("opaque/old", "file", b"hidden\n"),
                   ("srv", "dir", None), ("data", "dir777", None),
                   ("etc/marker", "file", marker.encode() + b"\n")])
    top = _tar([("etc", "dir", None), ("etc/.wh.gone", "file", b""),
                ("opaque", "dir", None), ("opaque/.wh..wh..opq", "file", b""),
                ("opaque/new", "file", b"visible\n"), ("etc/top", "file", marker.encode() + b" layer 2\n")])
    return [base, top]


def make_ca_and_cert(root):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl)."""
    ca_key, ca = os.path.join(root, "ca.key"), os.path.join(root, "ca.pem")
    key, csr, cert = (os.path.join(root, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(root, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=borealis test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
        "-days", "2", "-extfile", ext)
    return ca, cert, key


def _b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The registry's token service (Docker's token auth): answers
    GET /token?service=..&scope=repository:NAME:pull with a JWT (RS256,
    signed with openssl, its certificate in the x5c header) to clients
    that give user:password with basic auth; 401 to others."""

    def __init__(self, root, users):
        import http.server
        import threading
        self.root, self.users = root, users
        self.service, self.issuer = "borealis-test-registry", "borealis-test-tokens"
        self.key = os.path.join(root, "token.key")
        self.cert = os.path.join(root, "token.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                        "-out", self.cert, "-days", "2", "-subj", "/CN=borealis test tokens"],
                       check=True, capture_output=True)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                import base64
                from urllib.parse import parse_qs, urlparse
                q = parse_qs(urlparse(self.path).query)
                server.requests.append(q)
                auth = self.headers.get("Authorization", "")
                ok = False
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    ok = server.users.get(u) == p
                if not ok or q.get("service") != [server.service]:
                    self.send_response(401)
                    self.end_headers()
                    return
                _, name, actions = q["scope"][0].split(":")
                body = json.dumps({"token": server.mint(u, name, actions.split(","))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def mint(self, user, name, actions):
        import base64
        import secrets
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + 600, "nbf": now - 60,
                  "iat": now, "jti": secrets.token_hex(8),
                  "access": [{"type": "repository", "name": name, "actions": actions}]}
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing.encode(),
                             check=True, capture_output=True).stdout
        return f"{signing}.{_b64url(sig)}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class Registry:
    """Debian's docker-registry on 127.0.0.1:port, storage in `root`."""

    def __init__(self, root, port, users=None, tls=False, token=None):
        """users: {name: password} turns on basic auth (htpasswd, bcrypt);
        tls: HTTPS with a certificate for 127.0.0.1 from a CA made here
        (self.ca is its PEM file); token: a TokenServer, for bearer auth."""
        self.root, self.port = root, port
        self.auth_header = {}
        self.token = None
        self.host = f"127.0.0.1:{port}"
        self.storage = os.path.join(root, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.config = os.path.join(root, "config.yml")
        with open(self.config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
            self.scheme = "http"
            if token:
                f.write(f"auth:\n  token:\n    realm: {token.realm}\n    service: {token.service}\n"
                        f"    issuer: {token.issuer}\n    rootcertbundle: {token.cert}\n")
                self.token = token
            if tls:
                self.ca, cert, key = make_ca_and_cert(root)
                f.write(f"  tls:\n    certificate: {cert}\n    key: {key}\n")
                self.scheme = "https"
            if users:
                import base64
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    import crypt  # bcrypt through libxcrypt (Debian 12's Python 3.11 has it)
                htpasswd = os.path.join(root, "htpasswd")
                with open(htpasswd, "w") as h:
                    for u, p in users.items():
                        h.write(f"{u}:{crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
                f.write(f"auth:\n  htpasswd:\n    realm: borealis-test\n    path: {htpasswd}\n")
                u, p = next(iter(users.items()))
                self.auth_header = {"Authorization": "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()}
        self.log_path = os.path.join(root, "registry.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                import ssl
                ctx = ssl.create_default_context(cafile=self.ca) if tls else None
                urllib.request.urlopen(f"{self.scheme}://{self.host}/v2/", timeout=1, context=ctx).read()
                break
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    break
                raise
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("docker-registry did not start: " + open(self.log_path).read()[-2000:])
                time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def _req(self, method, url, data=None, headers=None):
        import ssl
        req = urllib.request.Request(url.replace("http://", f"{self.scheme}://", 1), data=data, method=method,
                                     headers={**self.auth_header, **(headers or {})})
        ctx = ssl.create_default_context(cafile=self.ca) if self.scheme == "https" else None
        return urllib.request.urlopen(req, timeout=30, context=ctx)

    def push(self, repo, tag, image):
        base = f"http://{self.host}/v2/{repo}"
        if self.token:
            self.auth_header = {"Authorization": "Bearer " + self.token.mint("ci", repo, ["pull", "push"])}
        for d, data in image.blobs.items():
            r = self._req("POST", f"{base}/blobs/uploads/", b"")
            loc = r.headers["Location"]
            if loc.startswith("/"):
                loc = f"{self.scheme}://{self.host}{loc}"
            sep = "&" if "?" in loc else "?"
            self._req("PUT", f"{loc}{sep}digest={d}", data,
                      {"Content-Type": "application/octet-stream"}).read()
        self._req("PUT", f"{base}/manifests/{tag}", image.manifest, {"Content-Type": MT_MANIFEST}).read()

    def blob_file(self, digest):
        h = digest[7:]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", h[:2], h, "data")

    def blob_gets(self, repo, digest):
        """GETs of a blob of repo, from the access log."""
        with open(self.log_path) as f:
            return sum(1 for line in f if f'"GET /v2/{repo}/blobs/{digest} ' in line)
