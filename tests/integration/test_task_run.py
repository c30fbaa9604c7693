"""`borealis task run`: a command run in each instance's container through
the scheduler and the agent, as the task's user, output prefixed by
instance, exit status per instance; timeouts and permissions."""
import os

from conftest import wait_for

JOB = "local/www-data/devel/runner"


def job_yaml(instances):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: runner
    service: true
    instances: {instances}
    task:
      resources: {{cpu: 0.05, ram: 16MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "echo {{{{instance}}}} > which; exec sleep 600"
"""


def start(c, instances=2):
    r = c.cli("job", "create", JOB, c.job_file(job_yaml(instances), "runner.yaml"), "--wait-until", "RUNNING")
    assert r.rc == 0, r


def test_run_prints_each_instance_inside_its_container_as_the_task_user(running):
    c = running
    start(c)
    r = c.cli("task", "run", JOB, "id -un; cat /proc/1/cmdline | tr '\\\\0' ' '; echo; pwd; cat which")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    for i in (0, 1):
        mine = [l[len(f"{i} | "):] for l in lines if l.startswith(f"{i} | ")]
        assert len(mine) == 4, r
        assert mine[0] == "www-data", r  # the role's user, not root
        assert "borealis-executor" in mine[1], r  # pid 1: the container's executor
        assert mine[2] == "/sandbox" and mine[3] == str(i), r
        assert f"instance {i}: exit code 0" in r.err, r
    # One instance only, and the words of CMD joined as ssh does.
    r = c.cli("task", "run", JOB + "/1", "--", "cat", "which")
    assert r.rc == 0 and r.out == "1 | 1\n", r


def test_a_failing_command_shows_its_status_and_fails_the_cli(running):
    c = running
    start(c)
    r = c.cli("task", "run", JOB, 'echo out; [ "$(cat which)" = 1 ] && exit 3; exit 0')
    assert r.rc == 4, r
    assert "instance 0: exit code 0" in r.err and "instance 1: exit code 3" in r.err, r
    assert "0 | out" in r.out and "1 | out" in r.out, r


def test_a_command_past_its_timeout_is_killed_and_reported(running):
    c = running
    start(c, instances=1)
    r = c.cli("task", "run", "--timeout", "1s", JOB, "echo begun; exec sleep 300")
    assert r.rc == 4, r
    assert "0 | begun" in r.out and "instance 0: timed out" in r.err, r
    # The agent is not blocked by it, and the task still runs.
    r = c.cli("task", "run", JOB + "/0", "echo again")
    assert r.rc == 0 and r.out == "0 | again\n", r
    # The timed-out command itself is gone from the container.
    def left():
        r = c.cli("task", "run", JOB + "/0", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
        assert r.rc == 0, r
        return "sleep 300" not in r.out
    wait_for("the timed-out command to be gone", left)


def test_running_a_command_needs_permission_on_the_role_and_is_audited(running):
    c = running
    start(c, instances=1)
    for name, flags in (("eve", ["--role", "nobody"]), ("reader", ["--read-all"])):
        r = c.cli("token", "create", name, *flags)
        assert r.rc == 0, r
        path = os.path.join(c.root, name + ".token")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(r.out.strip() + "\n")
        r = c.cli("task", "run", JOB, "touch pwned", env=dict(os.environ, BOREALIS_TOKEN_FILE=path))
        assert r.rc == 30 and "role `www-data`" in r.err, r
    sandbox = os.path.join(c.root, "agent", "sandboxes", c.tasks(JOB)[0]["id"])
    assert not os.path.exists(os.path.join(sandbox, "pwned"))
    r = c.cli("task", "run", JOB, "echo ok")
    assert r.rc == 0, r
    r = c.cli("audit")
    assert "task_run" in r.out or "echo ok" in r.out, r
