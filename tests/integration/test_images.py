"""Images: pulls from a real registry (Debian's docker-registry on
loopback, filled by the test), the content-addressed store, imports, and
the clear failures (unreachable, unknown tag, tampered blob)."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BOREALIS, free_port, wait_for
from imagelib import Image, Registry, busybox_layers, busybox_without_shell_layers

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None,
                                reason="docker-registry is not installed (scripts/install-deps.sh)")


@pytest.fixture(scope="module")
def registry():
    root = tempfile.mkdtemp(prefix="borealis-registry-")
    reg = Registry(root, free_port())
    try:
        img = Image(busybox_layers())
        reg.push("tools/busybox", "1.36", img)
        reg.image = img
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def data_dir():
    d = tempfile.mkdtemp(prefix="borealis-images-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def image(data_dir, *args, registry=None, timeout=60):
    cmd = [BOREALIS, "image", *args, "--data-dir", data_dir]
    if registry is not None:
        cmd += ["--plain-http", registry.host, "--registry-timeout", "5s"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def layer_dirs(data_dir):
    return sorted(os.listdir(os.path.join(data_dir, "images", "layers")))


def test_pull_by_tag_then_by_digest(registry, data_dir):
    img = registry.image
    r = image(data_dir, "pull", f"{registry.host}/tools/busybox:1.36", registry=registry)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{registry.host}/tools/busybox@{img.digest}"
    assert layer_dirs(data_dir) == sorted(l["digest"][7:] for l in img.layers)
    assert "downloaded" in r.stderr
    layer = os.path.join(data_dir, "images", "layers", img.layers[0]["digest"][7:])
    assert os.path.isfile(os.path.join(layer, "bin", "busybox"))
    # Whiteouts are stored in overlayfs's form in the top layer.
    top = os.path.join(data_dir, "images", "layers", img.layers[1]["digest"][7:])
    st = os.lstat(os.path.join(top, "etc", "gone"))
    assert (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0
    assert os.getxattr(os.path.join(top, "opaque"), "trusted.overlay.opaque") == b"y"
    assert not os.path.exists(os.path.join(top, "etc", ".wh.gone"))

    r = image(data_dir, "pull", f"{registry.host}/tools/busybox@{img.digest}", registry=registry)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{registry.host}/tools/busybox@{img.digest}"
    assert "downloaded" not in r.stderr and r.stderr.count("already present") == 2

    ls = json.loads(image(data_dir, "ls", "--json").stdout)
    assert {e["name"] for e in ls} == {f"{registry.host}/tools/busybox:1.36",
                                       f"{registry.host}/tools/busybox@{img.digest}"}
    assert all(e["digest"] == img.digest for e in ls)
    assert os.listdir(os.path.join(data_dir, "images", "tmp")) == []


def test_concurrent_pulls_download_each_layer_once(registry, data_dir):
    img = Image(busybox_layers("concurrent"))
    registry.push("tools/concurrent", "v1", img)
    procs = [subprocess.Popen([BOREALIS, "image", "pull", f"{registry.host}/tools/concurrent:v1",
                               "--data-dir", data_dir, "--plain-http", registry.host],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    for layer in img.layers:
        assert registry.blob_gets("tools/concurrent", layer["digest"]) == 1
    assert sum(err.count("downloaded") for _, err in outs) == 2


def test_tampered_blob_is_rejected_and_not_cached(registry, data_dir):
    img = Image(busybox_layers("tampered"))
    registry.push("tools/tampered", "v1", img)
    target = img.layers[1]
    path = registry.blob_file(target["digest"])
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)
    r = image(data_dir, "pull", f"{registry.host}/tools/tampered:v1", registry=registry)
    assert r.returncode == 4, r.stderr
    assert "digest mismatch" in r.stderr and target["digest"] in r.stderr
    assert target["digest"][7:] not in layer_dirs(data_dir)
    assert os.listdir(os.path.join(data_dir, "images", "tmp")) == []
    assert image(data_dir, "ls", "--json").stdout.strip() == "[]"


def test_unreachable_registry_is_a_clear_error(data_dir):
    host = f"127.0.0.1:{free_port()}"
    r = subprocess.run([BOREALIS, "image", "pull", f"{host}/tools/busybox:1.36", "--data-dir", data_dir,
                        "--plain-http", host, "--registry-timeout", "2s"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 7, r.stderr
    assert f"registry {host} unreachable" in r.stderr


def test_unknown_tag_and_repository(registry, data_dir):
    r = image(data_dir, "pull", f"{registry.host}/tools/busybox:nope", registry=registry)
    assert r.returncode == 4, r.stderr
    assert f"registry {registry.host} has no tag nope in tools/busybox" in r.stderr
    r = image(data_dir, "pull", "busybox:1.36", registry=registry)
    assert r.returncode == 6 and "names no registry" in r.stderr


def test_https_without_the_registry_ca_fails_clearly(registry, data_dir):
    # The registry speaks plain HTTP; without --plain-http we use HTTPS.
    r = subprocess.run([BOREALIS, "image", "pull", f"{registry.host}/tools/busybox:1.36", "--data-dir",
                        data_dir, "--registry-timeout", "3s"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 7, r.stderr
    assert f"registry {registry.host} unreachable: GET https://" in r.stderr


def test_import_oci_layout_and_docker_save(data_dir, tmp_path):
    img = Image(busybox_layers("imported"))
    oci = tmp_path / "oci.tar"
    oci.write_bytes(img.oci_layout_tar("imported:1"))
    r = image(data_dir, "import", str(oci))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"imported:1 {img.digest}"
    assert layer_dirs(data_dir) == sorted(l["digest"][7:] for l in img.layers)

    saved = tmp_path / "saved.tar"
    saved.write_bytes(img.docker_save_tar("saved:2"))
    r = image(data_dir, "import", str(saved))
    assert r.returncode == 0, r.stderr
    name, digest = r.stdout.split()
    assert name == "saved:2" and digest.startswith("sha256:")
    ls = {e["name"]: e["digest"] for e in json.loads(image(data_dir, "ls", "--json").stdout)}
    assert ls == {"imported:1": img.digest, "saved:2": digest}

    # rm keeps what another image still needs, then removes the rest.
    n_layers = len(layer_dirs(data_dir))
    assert image(data_dir, "rm", "saved:2").returncode == 0
    assert len(layer_dirs(data_dir)) == n_layers - 2  # the docker-save layers are the uncompressed tars
    assert image(data_dir, "rm", "imported:1").returncode == 0
    assert layer_dirs(data_dir) == []
    r = image(data_dir, "rm", "imported:1")
    assert r.returncode == 4 and "no image `imported:1`" in r.stderr


def test_import_refuses_escaping_and_tampered_archives(data_dir, tmp_path):
    import io
    import tarfile
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as t:
        ti = tarfile.TarInfo("../../escaped")
        ti.size = 1
        t.addfile(ti, io.BytesIO(b"x"))
    r = image(data_dir, "import", str(evil))
    assert r.returncode == 4 and "escapes its directory" in r.stderr, r.stderr

    img = Image(busybox_layers("bad"))
    raw = bytearray(img.oci_layout_tar("bad:1"))
    gz = img.blobs[img.layers[0]["digest"]]
    at = bytes(raw).find(gz)
    raw[at + 100] ^= 0xFF
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(raw))
    r = image(data_dir, "import", str(bad))
    assert r.returncode == 4 and "digest mismatch" in r.stderr, r.stderr
    assert layer_dirs(data_dir) == []


JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: boxed
    task:
      image: {image}
      resources: {{cpu: 0.1, ram: 32MiB, disk: 16MiB}}
      processes:
        - name: main
          cmdline: echo hi
"""
KEY = "local/www-data/devel/boxed"


def test_job_create_resolves_the_tag_to_a_digest_and_the_agent_pulls_it(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    img = registry.image
    path = c.job_file(JOB.format(image=f"{registry.host}/tools/busybox:1.36"))
    r = c.cli("job", "create", KEY, path, "--plain-http", registry.host)
    assert r.rc == 0, r
    digest_ref = f"{registry.host}/tools/busybox@{img.digest}"
    assert f"Resolved {registry.host}/tools/busybox:1.36 to {digest_ref}" in r.out
    assert c.job(KEY)["config"]["task"]["image"] == digest_ref
    status = c.cli("job", "status", KEY)
    assert f"Image: {digest_ref}" in status.out, status
    # The agent pulls the image into its store (beside its loop), then runs
    # the task in a container whose root is the image.
    t = wait_for("the task to end", lambda: (lambda ts: ts.get(0) if ts.get(0, {}).get("state") in
                                             ("FINISHED", "FAILED") else None)(c.tasks(KEY)))
    assert t["state"] == "FINISHED", t
    out = os.path.join(c.root, "agent", "sandboxes", t["id"], ".logs", "main", "stdout")
    assert open(out).read() == "hi\n"
    layers = os.listdir(os.path.join(c.root, "agent", "images", "layers"))
    assert sorted(layers) == sorted(l["digest"][7:] for l in img.layers)
    assert any("pulling image " + digest_ref in json.dumps(e) for e in t["events"]), t


def hanging_registry():
    """A TCP port that accepts connections and never answers."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def test_a_pull_runs_beside_the_agent_loop_and_fails_clearly(cluster):
    c = cluster
    hang = hanging_registry()
    host = f"127.0.0.1:{hang.getsockname()[1]}"
    dead = f"127.0.0.1:{free_port()}"
    c.agent_args = ["--plain-http", host, "--plain-http", dead, "--registry-timeout", "3s"]
    c.start_scheduler()
    c.start_agent()
    digest = "sha256:" + "ab" * 32
    r = c.cli("job", "create", KEY, c.job_file(JOB.format(image=f"{host}/tools/busybox@{digest}")))
    assert r.rc == 0, r
    st = wait_for("job status to show the pull", lambda: (lambda r: r if "pulling image" in r.out else None)(
        c.cli("job", "status", KEY)))
    assert f"pulling image {host}/tools/busybox@{digest}" in st.out, st
    # The loop is free meanwhile: another job starts and runs.
    other = "local/www-data/devel/plain"
    plain = JOB.replace("      image: {image}\n", "").format().replace("name: boxed", "name: plain")
    r = c.cli("job", "create", other, c.job_file(plain.replace("echo hi", "sleep 60"), "plain.yaml"))
    assert r.rc == 0, r
    c.wait_running(other, 1)
    assert c.tasks(KEY)[0]["state"] == "STARTING"
    t = wait_for("the pull to time out", lambda: (lambda t: t if t["state"] == "FAILED" else None)(c.tasks(KEY)[0]))
    assert f"registry {host} did not answer in time" in json.dumps(t), t
    hang.close()

    key2 = "local/www-data/devel/dead"
    c.cli("job", "create", key2, c.job_file(JOB.format(image=f"{dead}/tools/busybox@{digest}").replace(
        "name: boxed", "name: dead")))
    t = wait_for("the pull to fail", lambda: (lambda t: t if t["state"] == "FAILED" else None)(c.tasks(key2)[0]))
    assert f"launch failed: image: pull {dead}/tools/busybox@{digest}: registry {dead} unreachable" in \
        json.dumps(t), t
    assert os.listdir(os.path.join(c.root, "agent", "images", "tmp")) == []


def test_a_task_killed_while_its_image_is_pulled(cluster):
    c = cluster
    hang = hanging_registry()
    host = f"127.0.0.1:{hang.getsockname()[1]}"
    c.agent_args = ["--plain-http", host, "--registry-timeout", "20s"]
    c.start_scheduler()
    c.start_agent()
    digest = "sha256:" + "cd" * 32
    c.cli("job", "create", KEY, c.job_file(JOB.format(image=f"{host}/tools/busybox@{digest}")))
    wait_for("the pull", lambda: "pulling image" in json.dumps(c.tasks(KEY)[0]))
    r = c.cli("job", "killall", KEY)
    assert r.rc == 0, r
    t = wait_for("KILLED", lambda: (lambda t: t if t["state"] == "KILLED" else None)(c.tasks(KEY)[0]))
    assert "killed while its image was being pulled" in json.dumps(t), t
    hang.close()


def test_job_create_refuses_unknown_tags_and_unresolved_images(registry, running):
    c = running
    path = c.job_file(JOB.format(image=f"{registry.host}/tools/busybox:missing"))
    r = c.cli("job", "create", KEY, path, "--plain-http", registry.host)
    assert r.rc == 3, r
    assert f"task.image: registry {registry.host} has no tag missing in tools/busybox" in r.err
    host = f"127.0.0.1:{free_port()}"
    path = c.job_file(JOB.format(image=f"{host}/tools/busybox:1.36"))
    r = c.cli("job", "create", KEY, path, "--plain-http", host, "--registry-timeout", "2s")
    assert r.rc == 7 and f"registry {host} unreachable" in r.err, r
    path = c.job_file(JOB.format(image="busybox:latest"))
    r = c.cli("job", "create", KEY, path)
    assert r.rc == 3 and "names no registry" in r.err, r
    # The scheduler takes only digests: a client that skips the resolve is refused.
    body = json.loads(c.cli("job", "inspect", KEY, c.job_file(JOB.format(image=f"{host}/a:1")), "--json").out)
    status, answer = c.api_raw("/api/v1/jobs", "POST", json.dumps(body).encode())
    assert status == 400 and b"names a tag" in answer, answer
    assert c.api("/api/v1/jobs")["jobs"] == []


def test_agent_stops_promptly_while_a_pull_hangs_and_a_restart_reports_the_task(cluster):
    c = cluster
    hang = hanging_registry()
    host = f"127.0.0.1:{hang.getsockname()[1]}"
    c.agent_args = ["--plain-http", host, "--registry-timeout", "10m"]
    c.start_scheduler()
    c.start_agent()
    digest = "sha256:" + "ef" * 32
    c.cli("job", "create", KEY, c.job_file(JOB.format(image=f"{host}/tools/busybox@{digest}")))
    wait_for("the pull", lambda: "pulling image" in json.dumps(c.tasks(KEY)[0]))
    # SIGTERM with --cleanup-on-exit: the waiting task ends, the pull is
    # cancelled, the agent exits (the fixture's stop allows 60 s; a pull
    # is bounded by --registry-timeout, 10 min here).
    assert c.stop(c.agent, timeout=20) == 0
    t = wait_for("the task to end", lambda: (lambda t: t if t["state"] not in ("STARTING", "ASSIGNED") else None)(
        c.tasks(KEY)[0]), timeout=20)
    assert "killed while its image was being pulled" in json.dumps(t) or t["state"] == "PENDING", t
    assert os.listdir(os.path.join(c.root, "agent", "images", "tmp")) == []
    hang.close()


def test_gc_forgets_unused_images_past_the_age(registry, data_dir):
    r = image(data_dir, "pull", f"{registry.host}/tools/busybox:1.36", registry=registry)
    assert r.returncode == 0, r.stderr
    r = image(data_dir, "gc", "--age", "1h")
    assert r.returncode == 0 and r.stdout.strip() == "0 layers removed", r
    assert len(layer_dirs(data_dir)) == 2
    # A disk fuller than --min-free allows collects unused images at any age.
    r = image(data_dir, "gc", "--age", "1h", "--min-free", "100")
    assert r.returncode == 0 and r.stdout.strip() == "2 layers removed", r
    assert layer_dirs(data_dir) == [] and image(data_dir, "ls", "--json").stdout.strip() == "[]"
    assert os.listdir(os.path.join(data_dir, "images", "blobs", "sha256")) == []
    r = image(data_dir, "pull", f"{registry.host}/tools/busybox:1.36", registry=registry)
    assert r.returncode == 0, r.stderr
    r = image(data_dir, "gc", "--age", "0s")
    assert r.returncode == 0 and r.stdout.strip() == "2 layers removed", r


def test_basic_auth(data_dir, tmp_path):
    import base64
    root = tempfile.mkdtemp(prefix="borealis-registry-auth-")
    reg = Registry(root, free_port(), users={"ci": "s3cret"})
    try:
        img = Image(busybox_layers("auth"))
        reg.push("private/app", "v1", img)
        ref = f"{reg.host}/private/app:v1"
        r = image(data_dir, "pull", ref, registry=reg)
        assert r.returncode == 30, r.stderr
        assert f"registry {reg.host} asks for a user and password for private/app" in r.stderr
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode(b"ci:wrong").decode()}}}))
        r = image(data_dir, "pull", ref, "--registry-auth", str(auth), registry=reg)
        assert r.returncode == 30 and f"registry {reg.host} refused access to private/app (HTTP 401)" in r.stderr, \
            r.stderr
        auth.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode(b"ci:s3cret").decode()}}}))
        r = image(data_dir, "pull", ref, "--registry-auth", str(auth), registry=reg)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"{reg.host}/private/app@{img.digest}"
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_https_with_a_configured_ca(data_dir):
    root = tempfile.mkdtemp(prefix="borealis-registry-tls-")
    reg = Registry(root, free_port(), tls=True)
    try:
        img = Image(busybox_layers("tls"))
        reg.push("secure/app", "v1", img)
        ref = f"{reg.host}/secure/app:v1"
        cmd = [BOREALIS, "image", "pull", ref, "--data-dir", data_dir, "--registry-timeout", "5s"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert r.returncode == 7 and f"registry {reg.host} unreachable: GET https://" in r.stderr, r.stderr
        assert "certificate" in r.stderr
        r = subprocess.run(cmd + ["--registry-ca", reg.ca], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"{reg.host}/secure/app@{img.digest}"
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_bearer_token_auth(data_dir, tmp_path):
    import base64
    from imagelib import TokenServer
    root = tempfile.mkdtemp(prefix="borealis-registry-token-")
    tokens = TokenServer(root, {"ci": "s3cret"})
    reg = None
    try:
        reg = Registry(root, free_port(), token=tokens)
        img = Image(busybox_layers("token"))
        reg.push("private/app", "v1", img)
        ref = f"{reg.host}/private/app:v1"
        r = image(data_dir, "pull", ref, registry=reg)
        assert r.returncode == 30, r.stderr
        assert (f"registry {reg.host}: the token service refused private/app (HTTP 401); no credentials are "
                "configured for this registry") in r.stderr
        auth = tmp_path / "auth.json"
        auth.write_text(json.dumps({"auths": {reg.host: {"username": "ci", "password": "s3cret"}}}))
        r = image(data_dir, "pull", ref, "--registry-auth", str(auth), registry=reg)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"{reg.host}/private/app@{img.digest}"
        assert tokens.requests[-1]["scope"] == ["repository:private/app:pull"]
        assert tokens.requests[-1]["service"] == [tokens.service]
    finally:
        if reg:
            reg.stop()
        tokens.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_agent_killed_during_a_pull_reports_the_task_lost_and_it_is_rescheduled(cluster):
    c = cluster
    hang = hanging_registry()
    host = f"127.0.0.1:{hang.getsockname()[1]}"
    c.agent_args = ["--plain-http", host, "--registry-timeout", "10m"]
    c.start_scheduler()
    c.start_agent()
    digest = "sha256:" + "12" * 32
    c.cli("job", "create", KEY, c.job_file(JOB.format(image=f"{host}/tools/busybox@{digest}")))
    first = wait_for("the pull", lambda: (lambda t: t if "pulling image" in json.dumps(t) else None)(
        c.tasks(KEY)[0]))
    c.kill9(c.agent)
    c.start_agent()
    # The restarted agent knows the task but not its launch: it reports it
    # LOST (its own doing: no penalty) and the scheduler starts a new one,
    # which pulls again.
    wait_for("the new task to pull", lambda: (lambda t: t if t["id"] != first["id"] and "pulling image" in
                                              json.dumps(t) else None)(c.tasks(KEY)[0]))
    old = [t for t in c.all_tasks() if t["id"] == first["id"]][0]
    assert old["state"] == "LOST", old
    hang.close()


def test_agent_collects_unused_images_on_a_timer(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host, "--image-gc-age", "2s"]
    c.start_scheduler()
    c.start_agent()
    img = Image(busybox_layers("gc-timer"))
    registry.push("tools/gctimer", "v1", img)
    r = c.cli("job", "create", KEY, c.job_file(JOB.format(image=f"{registry.host}/tools/gctimer:v1")),
              "--plain-http", registry.host)
    assert r.rc == 0, r
    layers = os.path.join(c.root, "agent", "images", "layers")
    wait_for("the pull", lambda: len(os.listdir(layers)) == 2)
    wait_for("the image GC", lambda: os.listdir(layers) == [], timeout=30)
    assert "image GC: 2 layers removed" in c.log("agent.log")


def test_a_layer_cannot_write_outside_its_directory(registry, data_dir, tmp_path):
    from imagelib import _tar
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("untouched\n")
    evil = [
        _tar([("link", "symlink", str(victim)), ("link/planted", "file", b"x\n")]),
        _tar([("link2", "symlink", str(victim)), ("link2/.wh.keep", "file", b"")]),
        _tar([("../../escaped", "file", b"x\n")]),
    ]
    for i, layer in enumerate(evil):
        img = Image([layer])
        registry.push("evil/app", f"v{i}", img)
        r = image(data_dir, "pull", f"{registry.host}/evil/app:v{i}", registry=registry)
        assert r.returncode == 4, r.stderr
        assert "goes through a symlink" in r.stderr or "escapes its directory" in r.stderr, r.stderr
    assert sorted(os.listdir(victim)) == ["keep"] and (victim / "keep").read_text() == "untouched\n"
    assert layer_dirs(data_dir) == []
    assert os.listdir(os.path.join(data_dir, "images", "tmp")) == []


def test_two_jobs_on_one_image_share_one_pull(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    img = Image(busybox_layers("shared"))
    registry.push("tools/shared", "v1", img)
    keys = ["local/www-data/devel/one", "local/www-data/devel/two"]
    for k in keys:
        text = JOB.format(image=f"{registry.host}/tools/shared:v1").replace("name: boxed", "name: " + k.split("/")[-1])
        text = text.replace("instances: 1", "")
        r = c.cli("job", "create", k, c.job_file(text.replace("    task:", "    instances: 2\n    task:"),
                                                  k.split("/")[-1] + ".yaml"), "--plain-http", registry.host)
        assert r.rc == 0, r
    for k in keys:
        wait_for(f"{k} to finish", lambda: all(t["state"] == "FINISHED" for t in c.tasks(k).values())
                 and len(c.tasks(k)) == 2)
    for layer in img.layers:
        assert registry.blob_gets("tools/shared", layer["digest"]) == 1
    layers = os.listdir(os.path.join(c.root, "agent", "images", "layers"))
    assert sorted(layers) == sorted(l["digest"][7:] for l in img.layers)


RUN = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: boxed
    task:
      image: {image}
      resources: {{cpu: 0.1, ram: 32MiB, disk: 16MiB}}
      processes:
        - name: main
          cmdline: |
            echo "uid=$(id -u)"
            cat /etc/top /etc/marker
            test -e /etc/gone && echo whiteout-broken || echo whiteout-ok
            ls /opaque
            echo "var=$IMAGE_VAR"
            echo hi > /data/written && echo write-ok
            {extra}
"""


def mounted(text):
    with open("/proc/self/mountinfo") as f:
        return text in f.read()


def root_is_overlay(pid):
    """The container's root is the image's overlay, mounted in the
    runtime's private namespace: the host's mount table does not hold it."""
    with open(f"/proc/{pid}/mountinfo") as f:
        return any(line.split()[4] == "/" and " - overlay " in line for line in f)


def test_a_job_runs_a_command_from_its_image(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    img = registry.image
    r = c.cli("job", "create", KEY, c.job_file(RUN.format(image=f"{registry.host}/tools/busybox:1.36", extra="")),
              "--plain-http", registry.host, "--wait-until", "FINISHED", "--wait-timeout", "60s")
    t = c.tasks(KEY)[0]
    logs = os.path.join(c.root, "agent", "sandboxes", t["id"], ".logs", "main")
    out = open(os.path.join(logs, "stdout")).read()
    assert r.rc == 0, (r, out, open(os.path.join(logs, "stderr")).read())
    lines = out.split()
    assert "uid=0" not in lines and any(x.startswith("uid=") for x in lines), out
    assert "base" in lines and "whiteout-ok" in lines and "var=1" in lines and "write-ok" in lines, out
    assert "new" in lines and "old" not in lines, out  # the opaque dir hides the lower layer's files
    # Writes went to the task's own layer, never to the shared layers; once
    # the task ended, its overlay mount and writable layer are gone.
    for l in img.layers:
        assert not os.path.exists(os.path.join(c.root, "agent", "images", "layers", l["digest"][7:], "data",
                                               "written"))
    wait_for("the container to be removed",
             lambda: not os.path.exists(os.path.join(c.root, "agent", "containers", t["id"])))
    assert not mounted(t["id"])


def test_an_image_task_survives_an_agent_restart_and_leaves_nothing_after_kill(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    r = c.cli("job", "create", KEY, c.job_file(RUN.format(image=f"{registry.host}/tools/busybox:1.36",
                                                          extra="exec sleep 100000")),
              "--plain-http", registry.host, "--wait-until", "RUNNING", "--wait-timeout", "60s")
    assert r.rc == 0, r
    t = c.tasks(KEY)[0]
    pid = wait_for("the task's process", lambda: c.tasks(KEY)[0]["processes"][0].get("pid"))
    assert root_is_overlay(pid) and not mounted(t["id"])
    ls = json.loads(subprocess.run([BOREALIS, "image", "ls", "--json", "--data-dir", os.path.join(c.root, "agent")],
                                   capture_output=True, text=True).stdout)
    assert [e["tasks"] for e in ls] == [1], ls
    c.kill9(c.agent)
    c.start_agent()
    wait_for("the task to stay RUNNING after the restart",
             lambda: c.tasks(KEY)[0]["state"] == "RUNNING" and c.tasks(KEY)[0]["id"] == t["id"])
    assert root_is_overlay(pid)
    assert c.cli("job", "killall", KEY).rc == 0
    wait_for("KILLED", lambda: c.tasks(KEY)[0]["state"] == "KILLED")
    wait_for("the container to be removed",
             lambda: not os.path.exists(os.path.join(c.root, "agent", "containers", t["id"])))
    assert not mounted(t["id"])
    ls = json.loads(subprocess.run([BOREALIS, "image", "ls", "--json", "--data-dir", os.path.join(c.root, "agent")],
                                   capture_output=True, text=True).stdout)
    assert [e["tasks"] for e in ls] == [0], ls


# The image's own command prints what it was run with: its arguments ($0 is
# the Entrypoint's last word), an image variable the job overrides, one it
# keeps, its uid and its working directory.
ENTRY_SCRIPT = 'echo "$0 $* var=$IMAGE_VAR kept=$KEPT uid=$(id -u) pwd=$(pwd)"'
CONFIGURED = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: boxed
    task:
      image: {image}
      resources: {{cpu: 0.1, ram: 32MiB, disk: 16MiB}}
{env}
      processes:
{processes}
"""


def configured_image(registry, tag):
    img = Image(busybox_layers("configured"), entrypoint=["/bin/sh", "-c", ENTRY_SCRIPT, "entry"],
                cmd=["from-cmd", "two"], env=["IMAGE_VAR=image", "KEPT=image"], workdir="/srv", user="0")
    registry.push("tools/configured", tag, img)
    return f"{registry.host}/tools/configured:{tag}"


def run_to_end(c, registry, text, key=KEY):
    r = c.cli("job", "create", key, c.job_file(text, key.split("/")[-1] + ".yaml"), "--plain-http", registry.host)
    assert r.rc == 0, r
    t = wait_for("the task to end", lambda: (lambda ts: ts.get(0) if ts.get(0, {}).get("state") in
                                             ("FINISHED", "FAILED") else None)(c.tasks(key)), timeout=60)
    return t, os.path.join(c.root, "agent", "sandboxes", t["id"], ".logs")


def test_an_image_runs_its_entrypoint_and_cmd_with_its_env_and_working_dir(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    # No cmdline: the image's Entrypoint + Cmd, in its WorkingDir, with its
    # Env; its User (root) is not used, the role's user is.
    text = CONFIGURED.format(image=configured_image(registry, "v1"), env="      env: [\"EXTRA=1\"]",
                             processes="        - name: main")
    r = c.cli("job", "inspect", KEY, c.job_file(text, "inspect.yaml"))
    assert r.rc == 0 and "main: (the image's Entrypoint and Cmd)" in r.out and "env:" in r.out, r
    t, logs = run_to_end(c, registry, text)
    out = open(os.path.join(logs, "main", "stdout")).read()
    assert t["state"] == "FINISHED", (t, out, open(os.path.join(logs, "main", "stderr")).read())
    assert out.startswith("entry from-cmd two var=image kept=image uid="), out
    assert "uid=0 " not in out and out.endswith(" pwd=/srv\n"), out


def test_a_job_cmdline_replaces_cmd_and_its_env_overrides_the_image_env(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    text = CONFIGURED.format(image=configured_image(registry, "v2"),
                             env="      env: [\"IMAGE_VAR=job {{instance}}\"]",
                             processes="        - name: main\n          cmdline: override me")
    t, logs = run_to_end(c, registry, text)
    out = open(os.path.join(logs, "main", "stdout")).read()
    assert t["state"] == "FINISHED", (t, out)
    # The Entrypoint stays; the cmdline's words replace Cmd; the job's
    # variable (rendered at launch) wins, the image's other one is kept.
    assert out.startswith("entry override me var=job 0 kept=image uid="), out
    assert out.endswith(" pwd=/srv\n"), out


def test_an_image_without_a_shell_runs_a_plain_cmdline_and_a_shell_one_fails_clearly(registry, cluster):
    c = cluster
    c.agent_args = ["--plain-http", registry.host]
    c.start_scheduler()
    c.start_agent()
    img = Image(busybox_without_shell_layers(), cmd=["/bin/echo", "unused"], workdir="")
    registry.push("tools/noshell", "v1", img)
    ref = f"{registry.host}/tools/noshell:v1"
    t, logs = run_to_end(c, registry, CONFIGURED.format(image=ref, env="", processes=(
        "        - name: main\n          cmdline: cat /etc/marker")))
    out = open(os.path.join(logs, "main", "stdout")).read()
    assert t["state"] == "FINISHED" and out == "no shell here\n", (t, out,
                                                                     open(os.path.join(logs, "main", "stderr")).read())
    # Shell syntax needs the image's /bin/sh: without one the process fails
    # and its stderr says why.
    key = "local/www-data/devel/shelly"
    t, logs = run_to_end(c, registry, CONFIGURED.format(image=ref, env="", processes=(
        "        - name: main\n          cmdline: echo a; echo b")).replace("name: boxed", "name: shelly"), key)
    err = open(os.path.join(logs, "main", "stderr")).read()
    assert t["state"] == "FAILED" and "exited with status 127" in t["message"], t
    assert "exec `/bin/sh`: No such file or directory" in err, err
