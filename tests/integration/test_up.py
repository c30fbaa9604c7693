"""`borealis up` (what `make up` runs): a one-machine cluster that runs the
example job and, on Ctrl-C, leaves no process, cgroup or sandbox behind."""
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import tempfile
import urllib.request

from conftest import BOREALIS, cgroups_left, free_port, pid_alive, wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = "local/www-data/devel/hello"


def token_file(root):
    """The admin token of up's scheduler (made on its first start)."""
    return os.path.join(root, "up", "scheduler", "admin.token")


def get(url, root):
    """GET with up's admin token, verified against the CA up's scheduler
    made in its data dir."""
    with open(token_file(root)) as f:
        token = f.read().strip()
    ctx = ssl.create_default_context(cafile=os.path.join(root, "up", "scheduler", "tls", "ca.pem"))
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return json.loads(r.read())


def up_env(root):
    """up saves the scheduler's CA in the user's config dir, where the CLI
    finds it: a config dir of the test's own."""
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(root, "config"))
    env.pop("BOREALIS_CA", None)
    return env


def processes_under(root):
    """Live processes whose command line or working directory is in root."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if (root in cmd or cwd.startswith(root)) and pid_alive(int(pid)):
            found.append((pid, cmd))
    return found


def start_up(root, port):
    """Start `borealis up` as `make up` does (a data dir relative to the
    working directory) and read its output until it says the cluster is
    up, which it does once the example job is RUNNING, and how to reach
    it (the admin token file last)."""
    up = subprocess.Popen(
        [BOREALIS, "up", "--data-dir", "./up", "--port", str(port),
         "--file", os.path.join(REPO, "examples", "hello.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root, env=up_env(root))
    seen = []
    for line in up.stdout:
        seen.append(line)
        if "BOREALIS_TOKEN_FILE" in line:
            break
    out = "".join(seen)
    assert up.poll() is None, out
    assert "Borealis is up" in out, out
    return up, out


def stop_up(up):
    up.send_signal(signal.SIGINT)
    rest = up.communicate(timeout=60)[0]
    assert up.returncode == 0, rest


def test_up_runs_the_example_and_ctrl_c_cleans_everything():
    root = tempfile.mkdtemp(prefix="borealis-up-")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    up, out = start_up(root, port)
    try:
        assert url in out, out
        job = get(f"{url}/api/v1/jobs/{KEY}", root)
        tasks = job["tasks"]
        assert len(tasks) == 2 and all(t["state"] == "RUNNING" for t in tasks), job
        pids = [t["executor_pid"] for t in tasks] + [t["processes"][0]["pid"] for t in tasks]
        assert all(pid_alive(p) for p in pids)

        # The CLI reaches it as printed, with the token file up names (0600).
        assert f"export BOREALIS_TOKEN_FILE={token_file(root)}" in out, out
        assert os.stat(token_file(root)).st_mode & 0o777 == 0o600
        env = dict(up_env(root), BOREALIS_SCHEDULER=url, BOREALIS_TOKEN_FILE=token_file(root))
        r = subprocess.run([BOREALIS, "job", "status", KEY], capture_output=True, text=True, env=env)
        assert r.returncode == 0 and r.stdout.count("RUNNING") >= 2, r

        stop_up(up)
        assert not [p for p in pids if pid_alive(p)]
        # No task cgroup is left (the parent `borealis` may be shared with
        # another agent on a developer's machine).
        assert not [p for p in cgroups_left("borealis") if any(t["id"] in p for t in tasks)]
        sandboxes = os.path.join(root, "up", "agent", "sandboxes")
        assert not os.path.isdir(sandboxes) or os.listdir(sandboxes) == []
        assert processes_under(root) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        shutil.rmtree(root, ignore_errors=True)


def readme_commands():
    """The README's "Using it" commands, as a reader would type them."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = text.split("runs these commands as written. -->", 1)[1]
    block = block.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_readme_commands_work_as_written_against_up():
    """Every command of the README's "Using it" block exits 0 against a
    cluster started as `make up` starts it (the example job already
    running), and the batch example it creates finishes."""
    root = tempfile.mkdtemp(prefix="borealis-readme-")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    up, _ = start_up(root, port)
    try:
        env = up_env(root)
        ran = 0
        for argv in readme_commands():
            if argv[0] == "export":
                name, value = argv[1].split("=", 1)
                # The README's address is make up's default port; this
                # cluster has its own.
                # Likewise its data dir (./.borealis-up in the clone).
                env[name] = value.replace("https://127.0.0.1:8081", url).replace(
                    ".borealis-up", os.path.join(root, "up"))
                continue
            assert argv[0] == "./bin/borealis", argv
            r = subprocess.run([BOREALIS] + argv[1:], capture_output=True, text=True,
                               env=env, cwd=REPO, timeout=120)
            assert r.returncode == 0, (argv, r.stdout, r.stderr)
            ran += 1
        assert ran >= 5
        job = get(f"{url}/api/v1/jobs/local/www-data/devel/countdown", root)
        assert [t["state"] for t in job["tasks"]] == ["FINISHED"] * 3, job
        stop_up(up)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_up_again_brings_every_service_instance_back_without_penalty():
    """Ctrl-C of `up` kills every task because the cluster stops, not
    because the tasks failed: the next `up` on the same state runs every
    instance of the example again, none held back as flapping, each with
    its port."""
    root = tempfile.mkdtemp(prefix="borealis-up-again-")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    up = None
    try:
        up, _ = start_up(root, port)
        first = {t["instance"]: t["id"] for t in get(f"{url}/api/v1/jobs/{KEY}", root)["tasks"]}
        stop_up(up)
        up, _ = start_up(root, port)
        tasks = get(f"{url}/api/v1/jobs/{KEY}", root)["tasks"]
        assert sorted(t["instance"] for t in tasks) == [0, 1], tasks
        for t in tasks:
            assert t["state"] == "RUNNING", t
            assert t["id"] != first[t["instance"]], t
            assert all(p > 0 for p in t["ports"].values()), t
        history = get(f"{url}/api/v1/tasks?job={KEY}", root)["tasks"]
        assert len(history) >= 4 and all("events" in t for t in history), history
        assert not [e for t in history for e in t.get("events", []) if e["state"] == "THROTTLED"], history
        stop_up(up)
    finally:
        if up and up.poll() is None:
            up.kill()
            up.wait()
        shutil.rmtree(root, ignore_errors=True)
