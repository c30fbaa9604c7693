"""Services and ad hoc jobs through their lifecycle, with the real
scheduler, agent, executor, cgroups and CLI."""
import os
import signal

from conftest import pid_alive, wait_for

SERVICE = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: hello
    instances: 2
    service: true
    task:
      resources: {cpu: 0.1, ram: 32MiB, disk: 16MiB}
      ports: [http]
      processes:
        - name: hello
          cmdline: "echo hello {{instance}} on {{ports.http}}; exec sleep 100000"
"""

KEY = "local/www-data/devel/hello"


def adhoc(name, cmd, max_failures=1, instances=1):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: {name}
    instances: {instances}
    max_task_failures: {max_failures}
    task:
      resources: {{cpu: 0.1, ram: 16MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "{cmd}"
"""


def main_pid(task):
    procs = task["processes"]
    assert procs and procs[0]["pid"], task
    return procs[0]["pid"]


def test_service_runs_and_a_killed_process_is_replaced(running):
    c = running
    r = c.cli("job", "create", KEY, c.job_file(SERVICE), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    tasks = c.wait_running(KEY, 2)
    # Each instance got its own port and rendered its command line.
    ports = {t["ports"]["http"] for t in tasks.values()}
    assert len(ports) == 2
    sandbox = os.path.join(c.root, "agent", "sandboxes", tasks[0]["id"])
    stdout = wait_for("instance 0 output", lambda: open(
        os.path.join(sandbox, ".logs", "hello", "stdout")).read())
    assert stdout.strip() == f"hello 0 on {tasks[0]['ports']['http']}"

    old = tasks[0]
    os.kill(main_pid(old), signal.SIGKILL)

    def replaced():
        t = c.tasks(KEY)[0]
        return t["id"] != old["id"] and t["state"] == "RUNNING" and t
    new = wait_for("a replacement for instance 0", replaced)
    assert new["ancestor_id"] == old["id"]
    gone = c.api("/api/v1/tasks/" + old["id"])
    assert gone["state"] == "FAILED"
    assert "killed by signal 9" in gone["message"]
    # Instance 1 was left alone.
    assert c.tasks(KEY)[1]["id"] == tasks[1]["id"]

    r = c.cli("job", "status", KEY)
    assert r.rc == 0, r
    assert "RUNNING" in r.out and new["id"] in r.out


def test_adhoc_success_finishes_and_is_not_rescheduled(running):
    c = running
    key = "local/www-data/test/ok"
    r = c.cli("job", "create", key, c.job_file(adhoc("ok", "echo done")), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    job = c.job(key)
    assert job["job"]["state"] == "finished"
    assert [t["state"] for t in job["tasks"]] == ["FINISHED"]
    assert job["history"] == []
    assert len(c.all_tasks(job=key)) == 1


def test_adhoc_failure_retries_up_to_max_task_failures(running):
    c = running
    key = "local/www-data/test/bad"
    r = c.cli("job", "create", key, c.job_file(adhoc("bad", "exit 1", max_failures=2)),
              "--wait-until", "FINISHED")
    assert r.rc == 4, r  # the job ended, but not FINISHED
    assert "FAILED" in r.err + r.out
    job = wait_for("job to end", lambda: (j := c.job(key))["job"]["state"] != "active" and j)
    assert job["job"]["state"] == "failed"
    assert job["job"]["failed_instances"] == 1
    tasks = c.all_tasks(job=key)
    assert sorted(t["state"] for t in tasks) == ["FAILED", "FAILED"]
    last = job["tasks"][0]
    assert last["failure_count"] == 2
    assert last["ancestor_id"] == job["history"][0]["id"]
    assert "exited with status 1" in last["message"]


def test_adhoc_job_whose_instances_failed_ends_failed_and_says_how_many(running):
    c = running
    bad, ok = "local/www-data/test/bad2", "local/www-data/test/ok2"
    r = c.cli("job", "create", bad, c.job_file(adhoc("bad2", "exit 1", instances=2)))
    assert r.rc == 0, r
    r = c.cli("job", "create", ok, c.job_file(adhoc("ok2", "true", instances=2)))
    assert r.rc == 0, r
    job = wait_for("the failing job to end", lambda: (j := c.job(bad))["job"]["state"] != "active" and j)
    assert job["job"]["state"] == "failed"
    assert job["job"]["failed_instances"] == 2
    assert job["job"]["task_counts"] == {"FAILED": 2}
    job = wait_for("the good job to end", lambda: (j := c.job(ok))["job"]["state"] != "active" and j)
    assert job["job"]["state"] == "finished"
    assert job["job"]["failed_instances"] == 0
    r = c.cli("job", "status", bad)
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == f"Job {bad}: failed, adhoc, 2 instances (2 failed)"
    r = c.cli("job", "list", "local/www-data/test/*")
    assert r.rc == 0, r
    rows = {line.split()[0]: line.split() for line in r.out.splitlines()[1:]}
    header = r.out.splitlines()[0].split()
    assert dict(zip(header, rows[bad]))["STATE"] == "failed"
    assert dict(zip(header, rows[bad]))["FAILED"] == "2"
    assert dict(zip(header, rows[ok]))["STATE"] == "finished"
    assert dict(zip(header, rows[ok]))["FAILED"] == "0"


def test_kill_instances_and_killall(running):
    c = running
    r = c.cli("job", "create", KEY, c.job_file(SERVICE), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    tasks = c.tasks(KEY)
    pids = {i: main_pid(t) for i, t in tasks.items()}
    r = c.cli("job", "kill", KEY + "/1")
    assert r.rc == 0, r
    wait_for("instance 1 KILLED", lambda: c.tasks(KEY)[1]["state"] == "KILLED")
    wait_for("instance 1's process to exit", lambda: not pid_alive(pids[1]))
    assert c.tasks(KEY)[0]["state"] == "RUNNING"
    r = c.cli("job", "killall", KEY)
    assert r.rc == 0, r
    wait_for("job killed", lambda: c.job(KEY)["job"]["state"] == "killed")
    wait_for("instance 0's process to exit", lambda: not pid_alive(pids[0]))
    # Killed tasks are never rescheduled.
    assert len(c.all_tasks(job=KEY)) == 2


def test_memory_limit_kill_is_reported(running):
    c = running
    key = "local/www-data/test/hog"
    job = adhoc("hog", "tail /dev/zero").replace("ram: 16MiB", "ram: 32MiB")
    r = c.cli("job", "create", key, c.job_file(job), "--wait-until", "FINISHED")
    assert r.rc == 4, r
    t = wait_for("the hog to fail", lambda: (t := c.tasks(key)[0])["state"] == "FAILED" and t)
    assert "memory limit exceeded (limit 32MiB)" in t["message"], t["message"]


def test_tasks_get_the_original_fd_limit_not_the_agents_raised_one(running):
    import resource
    from conftest import TASK_FD_LIMIT
    c = running
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard > TASK_FD_LIMIT, "this test needs a hard limit above 1024"
    key = "local/www-data/test/limits"
    r = c.cli("job", "create", key, c.job_file(adhoc("limits", "ulimit -n")), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    t = c.tasks(key)[0]
    out = open(os.path.join(c.root, "agent", "sandboxes", t["id"], ".logs", "main", "stdout")).read()
    assert out.strip() == str(TASK_FD_LIMIT)
    with open(f"/proc/{c.agent.pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    assert line.split()[3] == str(hard)  # the agent's soft limit, raised
