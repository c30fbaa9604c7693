"""Graceful shutdown (docs/jobs.md "Graceful shutdown"): a killed task with
the lifecycle port gets POST /quitquitquit, a wait, POST /abortabortabort,
a wait, SIGTERM, the grace, SIGKILL, in that order; without the port it
goes straight to SIGTERM; and in its container SIGTERM reaches processes
that left their process group. A test service logs what it receives.
Real scheduler, agent, executor and containers, through the CLI."""
import os

from conftest import readable_by_tasks, wait_for

SERVER = readable_by_tasks(os.path.join(os.path.dirname(os.path.abspath(__file__)), "health_server.py"))


def job(name, task_extra, cmdline):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    service: true
    task:
      resources: {{cpu: 0.1, ram: 64MiB, disk: 0}}
      kill_grace_ms: 300ms
{task_extra}
      processes:
        - name: main
          cmdline: "{cmdline}"
"""


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def kill_and_wait(c, key, ready="listening"):
    """Kill the job's task once its events.log says `ready`; its sandbox."""
    task = c.wait_running(key, 1)[0]
    box = os.path.join(c.root, "agent", "sandboxes", task["id"])
    wait_for(ready, lambda: ready in read(os.path.join(box, "events.log")))
    r = c.cli("job", "killall", key)
    assert r.rc == 0, r
    wait_for("the task KILLED", lambda: c.api("/api/v1/tasks/" + task["id"])["state"] == "KILLED")
    return box


def test_kill_posts_quitquitquit_then_abortabortabort_then_signals(running):
    c = running
    key = "local/www-data/devel/graceful"
    # The server ignores both POSTs and SIGTERM (it only logs them), so
    # every step runs to its end and SIGKILL finishes it.
    extra = ("      lifecycle: {graceful_shutdown_wait: 300ms, shutdown_wait: 300ms}\n"
             "      health_check: {type: http, port: health, interval: 100ms}")
    cmd = f"touch ready; exec python3 {SERVER} {{{{ports.health}}}}"
    assert c.cli("job", "create", key, c.job_file(job("graceful", extra, cmd))).rc == 0
    box = kill_and_wait(c, key)
    seen = [line for line in read(os.path.join(box, "events.log")).splitlines()
            if line not in ("listening", "GET /health")]
    assert seen == ["POST /quitquitquit", "POST /abortabortabort", "SIGTERM"], seen
    log = read(os.path.join(box, ".borealis", "executor.log"))
    assert "kill grace expired: SIGKILL to what remains" in log, log


def test_a_task_that_quits_on_quitquitquit_is_not_signalled(running):
    c = running
    key = "local/www-data/devel/polite"
    # The process ends on the first POST (its shell waits for the server's
    # log line): the sequence stops there, long before its waits are over.
    extra = "      ports: [health]\n      lifecycle: {graceful_shutdown_wait: 1m, shutdown_wait: 1m}"
    cmd = (f"python3 {SERVER} {{{{ports.health}}}} & "
           "until grep -q quitquitquit events.log 2>/dev/null; do sleep 0.05; done; kill -9 $!; exit 0")
    assert c.cli("job", "create", key, c.job_file(job("polite", extra, cmd))).rc == 0
    box = kill_and_wait(c, key)
    log = read(os.path.join(box, ".borealis", "executor.log"))
    assert "POST /quitquitquit" in log and "abortabortabort" not in log and "SIGTERM to" not in log, log


def test_without_the_port_sigterm_comes_first_and_reaches_the_whole_container(running):
    c = running
    key = "local/www-data/devel/plain"
    # A daemon that left the process group (setsid) logs the SIGTERM it gets.
    daemon = ("setsid sh -c 'trap \\\"echo TERM >> events.log; exit 0\\\" TERM; echo up >> events.log; "
              "while :; do sleep 0.05; done' & exec sleep 100000")
    assert c.cli("job", "create", key, c.job_file(job("plain", "", daemon))).rc == 0
    box = kill_and_wait(c, key, ready="up")
    assert read(os.path.join(box, "events.log")).split() == ["up", "TERM"]
    log = read(os.path.join(box, ".borealis", "executor.log"))
    assert "POST" not in log and "SIGTERM to every process of the container" in log, log
