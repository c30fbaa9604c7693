"""CLI review: exit codes and messages for bad input that the other suites
do not cover, including a scheduler that answers nonsense (a fake HTTP
server in this process) and template errors in multi-line command lines."""
import http.server
import json
import os
import subprocess
import threading
import time

import pytest

from conftest import BOREALIS

KEY = "local/www-data/devel/hello"
GOOD = """
vars:
  greeting: hi
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: hello
    task:
      resources: {cpu: 0.1, ram: 32MiB, disk: 0}
      processes:
        - name: hello
          cmdline: "echo {{greeting}}"
"""


def cli(*args, timeout=60):
    proc = subprocess.run([BOREALIS] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def job_file(tmp_path):
    def write(text, name="job.yaml"):
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return write


class FakeScheduler:
    """Answers every request with what `routes` says for (method, path
    prefix): (status, body text) or a callable returning one."""

    def __init__(self):
        self.routes = {}
        self.stop_event = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                status, body = 404, '{"error": "no route", "code": "NOT_FOUND"}'
                for (method, prefix), v in fake.routes.items():
                    if method == self.command and self.path.startswith(prefix):
                        status, body = v() if callable(v) else v
                        break
                if status is None:  # never answer (until the test ends)
                    fake.stop_event.wait(30)
                    return
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakeScheduler()
    yield f
    f.close()


# -- --bind and --scheduler values are parameters (exit 6) -------------------

@pytest.mark.parametrize("bind", ["instance=3", "ports.http=1", "mesos.x=1", "role=x",
                                  "..=x", "a" * 65 + "=x"])
def test_bind_of_builtin_or_bad_name_is_invalid_parameter(job_file, bind):
    rc, out, err = cli("job", "inspect", KEY, job_file(GOOD), "--bind", bind)
    assert rc == 6, (rc, err)
    assert "--bind" in err, err


def test_empty_scheduler_url_is_invalid_parameter():
    rc, out, err = cli("--scheduler", "", "job", "list")
    assert rc == 6, (rc, err)
    assert "scheduler URL" in err, err
    rc, out, err = cli("job", "list", "--scheduler=")
    assert rc == 6, (rc, err)


# -- template errors point at the variable's own line ------------------------

def test_unknown_variable_in_block_scalar_names_its_line(job_file):
    text = GOOD.replace('cmdline: "echo {{greeting}}"',
                        "cmdline: |\n            echo start\n"
                        "            echo {{instance}}\n            echo {{nosuch}}\n")
    path = job_file(text, "block.yaml")
    lines = text.split("\n")
    want = next(i for i, l in enumerate(lines) if "{{nosuch}}" in l) + 1
    col = lines[want - 1].index("{{nosuch}}") + 1
    rc, out, err = cli("job", "inspect", KEY, path)
    assert rc == 3, (rc, err)
    assert f"block.yaml:{want}:{col}: unknown variable `{{{{nosuch}}}}`" in err, err


def test_unknown_variable_in_plain_scalar_names_its_column(job_file):
    path = job_file(GOOD.replace("echo {{greeting}}", "echo {{greeting}} {{nope}}"))
    lines = open(path).read().split("\n")
    line = next(i for i, l in enumerate(lines) if "{{nope}}" in l) + 1
    col = lines[line - 1].index("{{nope}}") + 1
    rc, out, err = cli("job", "inspect", KEY, path)
    assert rc == 3, (rc, err)
    assert f"job.yaml:{line}:{col}: unknown variable `{{{{nope}}}}`" in err, err


# -- a scheduler answering nonsense is an API error (exit 10), not success --

READ_COMMANDS = [
    ["job", "list"], ["job", "list", "--json"],
    ["job", "status", KEY], ["job", "status", KEY, "--json"],
    ["task", "list"], ["task", "list", "--json"],
]


@pytest.mark.parametrize("body", ["[1, 2, 3]", '"text"', "42",
                                  '{"jobs": 5, "job": "x", "tasks": {"a": 1}}'])
@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a))
def test_read_commands_refuse_a_malformed_answer(fake, body, args):
    fake.routes[("GET", "/api/v1/")] = (200, body)
    rc, out, err = cli("--scheduler", fake.url, *args)
    assert rc == 10, (rc, out, err)
    assert "scheduler" in err and "answer" in err, err


@pytest.mark.parametrize("body", ["[1]", '{"killed": "x"}', '{"killed": [1, null]}', "{}"])
def test_kill_refuses_a_malformed_answer(fake, body):
    fake.routes[("POST", "/api/v1/jobs/")] = (200, body)
    for args in (["job", "kill", KEY + "/0"], ["job", "killall", KEY]):
        rc, out, err = cli("--scheduler", fake.url, *args)
        assert rc == 10, (args, rc, out, err)
        assert "(null)" not in out + err


def test_wait_timeout_bounds_a_hung_scheduler(fake, job_file):
    fake.routes[("POST", "/api/v1/jobs")] = (201, '{"job": "%s", "tasks": []}' % KEY)
    fake.routes[("GET", "/api/v1/jobs/")] = (None, None)
    start = time.monotonic()
    rc, out, err = cli("--scheduler", fake.url, "job", "create", KEY, job_file(GOOD),
                       "--wait-until", "RUNNING", "--wait-timeout", "1s")
    took = time.monotonic() - start
    assert rc == 9, (rc, out, err)
    assert took < 10, f"--wait-timeout 1 took {took:.1f}s"
    assert "timed out" in err or "did not answer" in err, err
