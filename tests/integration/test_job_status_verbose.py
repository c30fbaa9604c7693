"""`job status --verbose`: each task's processes (state, runs, last exit
code) as the executor reports them, and the CPU time and memory of its
cgroup as the agent samples them (docs/protocol.md "usage"), through the
real CLI, scheduler, agent and executor."""
import json
import re

from conftest import wait_for


def job(name, cmdline, service, extra=""):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: {name}
    service: {'true' if service else 'false'}
    task:
      resources: {{cpu: 0.1, ram: 32MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "{cmdline}"
{extra}"""


def all_tasks(answer):
    return answer.get("tasks", []) + answer.get("history", [])


def test_a_process_that_failed_once_shows_two_runs_and_its_exit_code(running):
    c = running
    key = "local/www-data/test/flaky"
    # The first run exits 3, the second succeeds.
    cmd = "echo run >> runs; [ $(wc -l < runs) -ge 2 ] || exit 3"
    extra = "          max_failures: 2\n          min_duration: 100ms\n"
    r = c.cli("job", "create", key, c.job_file(job("flaky", cmd, False, extra)), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    r = c.cli("job", "status", key, "--verbose")
    assert r.rc == 0, r
    assert re.search(r"^\s+main\s+SUCCESS\s+2\s+0\s*$", r.out, re.M), r.out
    assert "PROCESS" in r.out and "RUNS" in r.out and "EXIT" in r.out, r.out
    r = c.cli("job", "status", key, "--json")
    assert r.rc == 0, r
    procs = [p for t in all_tasks(json.loads(r.out)) for p in t["processes"]]
    assert {"name": "main", "state": "SUCCESS", "runs": 2, "exit_code": 0}.items() <= procs[0].items(), procs


def test_a_running_task_shows_its_memory_and_cpu(running):
    c = running
    key = "local/www-data/test/busy"
    r = c.cli("job", "create", key, c.job_file(job("busy", "sleep 600", True)), "--wait-until", "RUNNING")
    assert r.rc == 0, r

    def memory():
        r = c.cli("job", "status", key, "--verbose")
        assert r.rc == 0, r
        m = re.search(r"CPU (\d+\.\d+) s, memory (\d+\.\d+) MiB \(peak (\S+)", r.out)
        return m and float(m.group(2)) > 0 and r.out

    out = wait_for("memory in job status --verbose", memory)
    assert re.search(r"^\s+main\s+RUNNING\s+1\s+-\s*$", out, re.M), out
    r = c.cli("job", "status", key, "--json")
    usage = json.loads(r.out)["tasks"][0]["usage"]
    assert usage["memory_bytes"] > 0 and usage["cpu_ms"] >= 0, usage
    assert usage["memory_peak_bytes"] is None or usage["memory_peak_bytes"] >= usage["memory_bytes"], usage
    r = c.cli("job", "killall", key)
    assert r.rc == 0, r
    wait_for("job killed", lambda: c.job(key)["job"]["state"] == "killed")


def test_a_daemon_that_reruns_shows_its_runs_while_its_task_stays_running(running):
    c = running
    key = "local/www-data/test/rerun"
    # A daemon that succeeds is run again; its task stays RUNNING, so only
    # the processes change. Each run leaves a line: the count the scheduler
    # shows catches up with what the process itself wrote.
    extra = "          daemon: true\n          min_duration: 200ms\n"
    r = c.cli("job", "create", key, c.job_file(job("rerun", "echo run >> runs; sleep 0.1", True, extra)),
              "--wait-until", "RUNNING")
    assert r.rc == 0, r

    def runs():
        r = c.cli("job", "status", key, "--json")
        assert r.rc == 0, r
        tasks = json.loads(r.out)["tasks"]
        assert [t["state"] for t in tasks] == ["RUNNING"], tasks
        return tasks[0]["processes"][0]["runs"]
    wait_for("the scheduler showing a third run", lambda: runs() >= 3)
    r = c.cli("job", "status", key, "--verbose")
    assert re.search(r"^\s+main\s+\w+\s+([3-9]|\d\d+)\s", r.out, re.M), r.out
