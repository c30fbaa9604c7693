"""The read commands a user scripts against: inspect, diff, list, status
--json, and templating with vars and --bind."""
import json
import os

from conftest import wait_for

FILE = """
vars:
  greeting: hello
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: greet
    instances: 2
    service: true
    task:
      resources: {cpu: 0.1, ram: 16MiB, disk: 0}
      processes:
        - name: greet
          cmdline: "echo {{greeting}} from {{role}}/{{name}} instance {{mesos.instance}} port {{thermos.ports[http]}}; exec sleep 100000"
  - cluster: local
    role: www-data
    environment: prod
    name: other
    task:
      resources: {cpu: 0.1, ram: 16MiB, disk: 0}
      processes:
        - name: main
          cmdline: "exec sleep 100000"
"""
KEY = "local/www-data/devel/greet"


def test_inspect_shows_the_templated_config_without_creating(running):
    c = running
    path = c.job_file(FILE)
    r = c.cli("job", "inspect", KEY, path, "--bind", "greeting=hi", "--json")
    assert r.rc == 0, r
    job = r.json()
    cmd = job["task"]["processes"][0]["cmdline"]
    # User variables resolved, Aurora spellings normalised, runtime ones kept.
    assert cmd.startswith("echo hi from www-data/greet instance {{instance}} port {{ports.http}};"), cmd
    assert job["task"]["ports"] == ["http"]
    assert job["task"]["resources"]["ram"] == 16 << 20
    assert c.api("/api/v1/jobs")["jobs"] == []


def test_bound_variables_reach_the_running_process(running):
    c = running
    path = c.job_file(FILE)
    r = c.cli("job", "create", KEY, path, "--bind", "greeting=bonjour", "--wait-until", "RUNNING")
    assert r.rc == 0, r
    t = c.tasks(KEY)[1]
    out = os.path.join(c.root, "agent", "sandboxes", t["id"], ".logs", "greet", "stdout")
    text = wait_for("output", lambda: os.path.exists(out) and open(out).read())
    assert text.strip() == f"bonjour from www-data/greet instance 1 port {t['ports']['http']}"


def test_diff_and_list(running):
    c = running
    path = c.job_file(FILE)
    assert c.cli("job", "create", KEY, path).rc == 0
    r = c.cli("job", "diff", KEY, path)
    assert r.rc == 0 and "Job is unchanged" in r.out, r
    changed = c.job_file(FILE.replace("instances: 2", "instances: 3"), "changed.yaml")
    r = c.cli("job", "diff", KEY, changed)
    assert r.rc == 0, r
    assert "- instances: 2" in r.out and "+ instances: 3" in r.out, r.out

    assert c.cli("job", "create", "local/www-data/prod/other", path).rc == 0
    r = c.cli("job", "list", "local/www-data/devel/*", "--json")
    assert r.rc == 0, r
    assert [j["key"] for j in r.json()["jobs"]] == [KEY]
    r = c.cli("job", "list")
    assert r.rc == 0 and KEY in r.out and "local/www-data/prod/other" in r.out, r


def test_status_json_is_the_api_answer(running):
    c = running
    assert c.cli("job", "create", KEY, c.job_file(FILE), "--wait-until", "RUNNING").rc == 0
    r = c.cli("job", "status", KEY, "--json")
    assert r.rc == 0, r
    data = r.json()
    assert data["job"]["key"] == KEY
    assert sorted(t["instance"] for t in data["tasks"]) == [0, 1]
    assert {t["state"] for t in data["tasks"]} == {"RUNNING"}


def test_wait_until_times_out_with_code_9(running):
    c = running
    big = c.job_file(FILE.replace("ram: 16MiB, disk: 0}\n      processes:\n        - name: greet",
                                  "ram: 64TiB, disk: 0}\n      processes:\n        - name: greet"))
    # 3 s: on a loaded machine the last poll of a 1 s wait can run out of
    # time before any answer said why the task is pending.
    r = c.cli("job", "create", KEY, big, "--wait-until", "RUNNING", "--wait-timeout", "3s")
    assert r.rc == 9, r
    assert "INSUFFICIENT_RESOURCES" in r.err + r.out
