"""Health checks and readiness (docs/jobs.md "Health checks"): a task with
a check is STARTING until the check passes, RUNNING then; one that turns
unhealthy is killed, FAILED with what the check returned, and replaced.
Real scheduler, agent, executor and containers, through the CLI."""
import os

from conftest import readable_by_tasks, wait_for

SERVER = readable_by_tasks(os.path.join(os.path.dirname(os.path.abspath(__file__)), "health_server.py"))


def job(name, check, cmdline, service=True, extra=""):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    service: {str(service).lower()}
    task:
      resources: {{cpu: 0.1, ram: 64MiB, disk: 0}}
      kill_grace_ms: 1s
      lifecycle: {{graceful_shutdown_wait: 0s, shutdown_wait: 0s}}
      health_check: {check}
      processes:
        - name: main
          cmdline: "{cmdline}"
{extra}"""


def sandbox(c, task):
    return os.path.join(c.root, "agent", "sandboxes", task["id"])


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def only_task(c, key):
    return c.tasks(key)[0]


def started_then_ready(c, key, attempted):
    """Create the job, see its task STARTING after `attempted(sandbox)` shows
    that checks ran and failed, then create `ready` and see it RUNNING."""
    task = wait_for("the task STARTING", lambda: (t := only_task(c, key))["state"] == "STARTING" and t)
    box = sandbox(c, task)
    wait_for("failed health checks", lambda: attempted(box))
    t = only_task(c, key)
    assert t["state"] == "STARTING" and t["id"] == task["id"], t
    open(os.path.join(box, "ready"), "w").close()
    c.wait_running(key, 1)
    assert only_task(c, key)["id"] == task["id"]
    return box


def test_http_check_keeps_the_task_starting_until_it_passes(running):
    c = running
    key = "local/www-data/devel/web"
    check = "{type: http, port: health, interval: 100ms, timeout: 1s, initial_interval: 1h}"
    r = c.cli("job", "create", key, c.job_file(job("web", check, f"exec python3 {SERVER} {{{{ports.health}}}}")))
    assert r.rc == 0, r
    # Two GETs answered 503 while STARTING: the check runs, and fails.
    box = started_then_ready(
        c, key, lambda b: read(os.path.join(b, "events.log")).count("GET /health") >= 2)
    r = c.cli("job", "status", key)
    assert r.rc == 0 and "RUNNING" in r.out, r


def test_tcp_check_keeps_the_task_starting_until_it_connects(running):
    c = running
    key = "local/www-data/devel/tcp"
    check = "{type: tcp, port: health, interval: 100ms, timeout: 1s, initial_interval: 1h}"
    cmd = f"exec python3 {SERVER} {{{{ports.health}}}} --listen-when-ready"
    assert c.cli("job", "create", key, c.job_file(job("tcp", check, cmd))).rc == 0
    box = started_then_ready(
        c, key, lambda b: "Connection refused" in read(os.path.join(b, ".borealis", "executor.log")))
    wait_for("the server listening", lambda: "listening" in read(os.path.join(box, "events.log")))


def test_shell_check_runs_in_the_task_as_its_user(running):
    c = running
    key = "local/www-data/devel/shell"
    # Each run says who it is and where, then passes once `ready` exists.
    check = ('{type: shell, command: "id -un >> checks.log; test -f ready", interval: 100ms, '
             'initial_interval: 1h}')
    assert c.cli("job", "create", key, c.job_file(job("shell", check, "exec sleep 100000"))).rc == 0
    box = started_then_ready(c, key, lambda b: read(os.path.join(b, "checks.log")).count("\n") >= 2)
    assert set(read(os.path.join(box, "checks.log")).split()) == {"www-data"}


def test_a_task_that_turns_unhealthy_is_replaced_with_the_reason(running):
    c = running
    key = "local/www-data/devel/sick"
    check = "{type: http, port: health, interval: 100ms, timeout: 1s, max_consecutive_failures: 1}"
    cmd = f"touch ready; exec python3 {SERVER} {{{{ports.health}}}}"
    assert c.cli("job", "create", key, c.job_file(job("sick", check, cmd)), "--wait-until", "RUNNING").rc == 0
    old = c.wait_running(key, 1)[0]
    open(os.path.join(sandbox(c, old), "sick"), "w").close()

    def replaced():
        t = only_task(c, key)
        return t["id"] != old["id"] and t
    wait_for("a replacement", replaced)
    gone = c.api("/api/v1/tasks/" + old["id"])
    assert gone["state"] == "FAILED", gone
    reason = "unhealthy: 2 health check(s) failed in a row, the last: GET 127.0.0.1:"
    assert reason in gone["message"] and "/health: returned status 500 (expected 200)" in gone["message"], gone
    assert any(e["state"] == "FAILED" and reason in e["message"] for e in gone["events"]), gone["events"]
    # The replacement's sandbox is new (no `sick`), so it is healthy again.
    c.wait_running(key, 1)
    r = c.cli("job", "status", key)
    assert r.rc == 0 and "returned status 500" in r.out, r


def test_snooze_file_pauses_checks(running):
    c = running
    key = "local/www-data/devel/snooze"
    check = '{type: shell, command: "test -f ready", interval: 100ms, initial_interval: 1h, snooze_file: hold/snooze}'
    assert c.cli("job", "create", key, c.job_file(job("snooze", check, "exec sleep 100000"))).rc == 0
    task = wait_for("the task STARTING", lambda: (t := only_task(c, key))["state"] == "STARTING" and t)
    box = sandbox(c, task)
    log = os.path.join(box, ".borealis", "executor.log")
    os.makedirs(os.path.join(box, "hold"))
    open(os.path.join(box, "hold", "snooze"), "w").close()
    wait_for("checks paused", lambda: "health checks paused" in read(log))
    # Healthy now, but nobody checks while the file exists.
    open(os.path.join(box, "ready"), "w").close()
    assert only_task(c, key)["state"] == "STARTING"
    os.unlink(os.path.join(box, "hold", "snooze"))
    c.wait_running(key, 1)
    text = read(log)
    assert text.index("health checks paused") < text.index("health checks resumed") < text.index("healthy after"), text
