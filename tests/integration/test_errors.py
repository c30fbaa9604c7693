"""Bad input: each gives a clear message naming what is wrong and its
documented exit code, and the daemons stay up."""
import json
import re
import os

GOOD = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: hello
    task:
      resources: {cpu: 0.1, ram: 32MiB, disk: 0}
      processes:
        - name: hello
          cmdline: "exec sleep 100000"
"""
KEY = "local/www-data/devel/hello"


def test_malformed_yaml_names_file_line_and_column(running):
    c = running
    path = c.job_file("jobs:\n  - cluster: local\n    role: [unclosed\n", "broken.yaml")
    r = c.cli("job", "create", KEY, path)
    assert r.rc == 3, r
    assert "broken.yaml:" in r.err and "YAML" in r.err, r.err


def test_unknown_field_is_named(running):
    c = running
    path = c.job_file(GOOD.replace("    task:", "    tsk: 1\n    task:"), "typo.yaml")
    r = c.cli("job", "create", KEY, path)
    assert r.rc == 3, r
    assert "typo.yaml:7:" in r.err and "`tsk`" in r.err, r.err


def test_unknown_template_variable_is_named(running):
    c = running
    path = c.job_file(GOOD.replace("exec sleep 100000", "echo {{nope}}"), "var.yaml")
    r = c.cli("job", "create", KEY, path)
    assert r.rc == 3, r
    assert "var.yaml:" in r.err and "nope" in r.err, r.err


def test_invalid_key_is_an_invalid_parameter(running):
    c = running
    r = c.cli("job", "create", "local/www data/devel/x", c.job_file(GOOD))
    assert r.rc == 6, r
    assert "www data" in r.err
    r = c.cli("job", "status", "only/three/parts")
    assert r.rc == 6, r


def test_wrong_cluster_is_refused(running):
    c = running
    key = "elsewhere/www-data/devel/hello"
    path = c.job_file(GOOD.replace("cluster: local", "cluster: elsewhere"))
    r = c.cli("job", "create", key, path)
    assert r.rc == 3, r
    assert "elsewhere" in r.err and "local" in r.err, r.err


def test_duplicate_create_names_the_existing_job(running):
    c = running
    path = c.job_file(GOOD)
    assert c.cli("job", "create", KEY, path).rc == 0
    r = c.cli("job", "create", KEY, path)
    assert r.rc == 10, r
    assert KEY in r.err and "already exists" in r.err, r.err


def test_unknown_job(running):
    c = running
    r = c.cli("job", "status", "local/nobody/devel/nothing")
    assert r.rc == 10, r
    assert "local/nobody/devel/nothing" in r.err and "not found" in r.err, r.err


def test_too_large_for_any_machine_is_accepted_and_pending_with_reason(running):
    c = running
    path = c.job_file(GOOD.replace("ram: 32MiB", "ram: 64TiB"))
    r = c.cli("job", "create", KEY, path, "--wait-until", "PENDING")
    assert r.rc == 0, r
    r = c.cli("job", "status", KEY)
    assert r.rc == 0, r
    assert "PENDING" in r.out and "INSUFFICIENT_RESOURCES: ram" in r.out, r.out
    t = c.tasks(KEY)[0]
    assert t["pending_reason"].startswith("INSUFFICIENT_RESOURCES: ram (needs 64TiB")


def test_scheduler_unreachable(cluster):
    c = cluster  # nothing started
    r = c.cli("job", "list")
    assert r.rc == 7, r
    assert c.url in r.err, r.err


def test_invalid_command(running):
    c = running
    r = c.cli("job", "frobnicate")
    assert r.rc == 5, r
    r = c.cli("job", "create", KEY)
    assert r.rc == 5, r


def test_api_rejects_bad_bodies_without_crashing(running):
    c = running
    status, body = c.api_raw("/api/v1/jobs", "POST", b"{not json")
    assert status == 400 and "not valid JSON" in json.loads(body)["error"]
    status, body = c.api_raw("/api/v1/jobs", "POST", b"[1, 2]")
    assert status == 400 and "object" in json.loads(body)["error"]
    status, body = c.api_raw("/api/v1/jobs", "POST", b"{" + b" " * (2 << 20) + b"}")
    assert status == 413
    status, body = c.api_raw("/api/v1/jobs", "POST", json.dumps({"cluster": "local"}).encode())
    assert status == 400 and json.loads(body)["error"]
    status, _ = c.api_raw("/api/v1/agents/sync", "POST", b'{"agent_id": 5}')
    assert status == 401  # no agent certificate
    status, _ = c.api_raw("/api/v1/nothing-here")
    assert status == 404
    assert c.api_ok("/health")


def test_metrics_are_prometheus_text(running):
    c = running
    assert c.cli("job", "create", KEY, c.job_file(GOOD), "--wait-until", "RUNNING").rc == 0
    status, body = c.api_raw("/metrics")
    text = body.decode()
    assert status == 200
    assert 'borealis_tasks{state="RUNNING"} 1' in text
    assert 'borealis_agents{state="up"} 1' in text
    assert 'borealis_api_requests_total{route="job_create",code="201"} 1' in text
    assert "borealis_placement_latency_ms_count 1" in text
    # The agent registered (a body for jansson) and reported its task with
    # bodies the in-place reader takes: if the agent's bodies drift from
    # that reader's shape, the scheduler silently parses them slowly.
    reads = dict(re.findall(r'borealis_agent_sync_reads_total\{reader="(\w+)"\} (\d+)', text))
    assert int(reads["jansson"]) >= 1 and int(reads["in_place"]) >= 1, reads
