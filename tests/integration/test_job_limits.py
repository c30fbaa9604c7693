"""Jobs that could never run are refused when they are created, by the CLI
(which validates the job file) and by the API (which validates again):
keys too long for a task id, duplicate port names. Durations always carry
a unit."""
import json

import pytest

from conftest import wait_for

ROLE = "r" * 64
NAME = "n" * 64
ENV = "staging" + "1" * 57  # 64 characters, a valid environment

JOB = """
jobs:
  - cluster: local
    role: {role}
    environment: {env}
    name: {name}
    task:
      resources: {{cpu: 0.1, ram: 16MiB, disk: 0}}
      ports: {ports}
      {extra}
      processes:
        - name: main
          cmdline: "exec sleep 100000"
"""


def job_json(role=ROLE, env=ENV, name=NAME, ports=("http",)):
    return {"cluster": "local", "role": role, "environment": env, "name": name,
            "task": {"resources": {"cpu": 0.1, "ram": 16 << 20, "disk": 0}, "ports": list(ports),
                     "processes": [{"name": "main", "cmdline": "exec sleep 100000"}]}}


@pytest.fixture
def scheduler(cluster):
    cluster.start_scheduler()
    return cluster


def test_key_too_long_for_task_ids_is_refused_by_cli_and_api(running):
    c = running
    key = f"local/{ROLE}/{ENV}/{NAME}"
    path = c.job_file(JOB.format(role=ROLE, env=ENV, name=NAME, ports="[http]", extra=""))
    r = c.cli("job", "create", key, path)
    assert r.rc == 3, r  # invalid job file
    assert "at most 156 fit in a task id" in r.err and "200 characters" in r.err, r.err
    assert ROLE in r.err, r.err
    status, body = c.api_raw("/api/v1/jobs", "POST", json.dumps(job_json()).encode())
    assert status == 400, body
    answer = json.loads(body)
    assert answer["code"] == "INVALID" and "at most 156 fit in a task id" in answer["error"], answer
    assert c.api("/api/v1/jobs")["jobs"] == []
    # 156 characters fit, and the agent takes what the scheduler accepts:
    # its sandbox and cgroup are made, and it gets as far as looking up the
    # role's Unix user (there is none called rrr...).
    env = "staging" + "1" * 21
    status, body = c.api_raw("/api/v1/jobs", "POST", json.dumps(job_json(env=env)).encode())
    assert status == 201, body
    t = wait_for("the launch failed for want of a user", lambda: [
        t for t in c.tasks(f"local/{ROLE}/{env}/{NAME}").values()
        if t["state"] in ("FAILED", "THROTTLED", "PENDING") and "no Unix user" in (t.get("message") or "")])
    assert f"role `{ROLE}` has no Unix user on this machine" in t[0]["message"], t


def test_duplicate_port_names_are_refused(scheduler):
    c = scheduler
    path = c.job_file(JOB.format(role="www-data", env="devel", name="dup", ports="[http, admin, http]", extra=""))
    r = c.cli("job", "create", "local/www-data/devel/dup", path)
    assert r.rc == 3, r
    assert "duplicate port name `http`" in r.err and "job.yaml:9:28:" in r.err, r.err
    status, body = c.api_raw("/api/v1/jobs", "POST", json.dumps(
        job_json(role="www-data", env="devel", name="dup", ports=("http", "http"))).encode())
    assert status == 400 and "duplicate port name `http`" in json.loads(body)["error"], body


def test_durations_need_a_unit(scheduler):
    c = scheduler
    path = c.job_file(JOB.format(role="www-data", env="devel", name="grace", ports="[]",
                                 extra="kill_grace_ms: 5000"))
    r = c.cli("job", "create", "local/www-data/devel/grace", path)
    assert r.rc == 3, r
    assert "`5000` has no unit: write e.g. `5000s`" in r.err, r.err
    path = c.job_file(JOB.format(role="www-data", env="devel", name="grace", ports="[]", extra=""))
    r = c.cli("job", "create", "local/www-data/devel/grace", path, "--wait-until", "PENDING",
              "--wait-timeout", "30")
    assert r.rc == 6, r  # invalid parameter
    assert "`30` has no unit: write e.g. `30s`" in r.err, r.err
