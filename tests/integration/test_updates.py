"""Rolling updates driven by the scheduler (`borealis update ...`): instances
added, killed and replaced batch by batch, a bad version rolled back,
pause/resume/abort, kills refused meanwhile, and an update that survives a
scheduler kill -9. Checked on the machine's processes and through the API."""
import collections
import os
import time

from conftest import wait_for

KEY = "local/www-data/prod/web"


def job(version, instances=3, watch=1, batch=1, cmd=None, rollback=True, max_failures=0, extra=""):
    cmd = cmd or f"TEST_MARKER={version}-{{{{instance}}}} exec sleep 100000"
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: prod
    name: web
    instances: {instances}
    service: true
    update:
      batch_size: {batch}
      watch_secs: {watch}
      max_total_failures: {max_failures}
      rollback_on_failure: {"true" if rollback else "false"}{extra}
    task:
      resources: {{cpu: 0.01, ram: 8MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "{cmd}"
"""


def processes_with(prefix):
    """Live processes whose environment carries TEST_MARKER=<prefix>-N,
    counted by N."""
    found = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for e in env:
            if e.startswith(f"TEST_MARKER={prefix}-"):
                found[e.rsplit("-", 1)[1]] += 1
    return found


def marker(c, v):
    return f"u{c.port}{v}"


def create(c, version, **kw):
    r = c.cli("job", "create", KEY, c.job_file(job(marker(c, version), **kw), f"{version}.yaml"),
              "--wait-until", "RUNNING")
    assert r.rc == 0, r
    n = kw.get("instances", 3)
    tasks = c.wait_running(KEY, n)
    # RUNNING is reported once the executor has forked; the process may
    # not have exec'd yet (its environment is the executor's until then).
    wait_for(f"{n} processes of {version}", lambda: running_on_versions(c, version, n))
    return tasks


def update_file(c, version, **kw):
    return c.job_file(job(marker(c, version), **kw), f"{version}.yaml")


def latest(c):
    return c.api(f"/api/v1/jobs/{KEY}/updates/latest")["update"]


def await_status(c, *statuses, timeout=90):
    return wait_for(f"update status in {statuses}",
                    lambda: (u := latest(c))["status"] in statuses and u, timeout=timeout)


def running_on_versions(c, version, n):
    """Exactly one process per instance 0..n-1 of `version`, and the job's
    n current tasks RUNNING."""
    procs = processes_with(marker(c, version))
    ts = c.tasks(KEY)
    return (sorted(procs) == [str(i) for i in range(n)] and set(procs.values()) == {1}
            and len(ts) == n and all(t["state"] == "RUNNING" for t in ts.values()))


def test_update_kill_only_then_add_only(running):
    c = running
    create(c, "v1", instances=3)
    r = c.cli("update", "start", KEY, update_file(c, "v1", instances=1), "--wait", "--message", "shrink")
    assert r.rc == 0, r
    assert "kill      2 instances: 1-2" in r.out, r
    assert "unchanged 1 instance: 0" in r.out, r
    assert "ended ROLLED_FORWARD" in r.out, r
    wait_for("one instance left", lambda: running_on_versions(c, "v1", 1))
    assert c.job(KEY)["job"]["instances"] == 1
    # Back to three: two instances added, the first untouched.
    first = c.tasks(KEY)[0]["id"]
    r = c.cli("update", "start", KEY, update_file(c, "v1", instances=3), "--wait")
    assert r.rc == 0, r
    assert "add       2 instances: 1-2" in r.out, r
    wait_for("three instances again", lambda: running_on_versions(c, "v1", 3))
    assert c.tasks(KEY)[0]["id"] == first
    u = latest(c)
    assert u["status"] == "ROLLED_FORWARD" and u["summary"]["add"] == [1, 2], u
    assert [u["status"] for u in c.api(f"/api/v1/jobs/{KEY}/updates")["updates"]] == \
        ["ROLLED_FORWARD", "ROLLED_FORWARD"]


def test_replace_update_rolls_forward_with_history(running):
    c = running
    create(c, "v1", instances=3)
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=3, batch=2), "--wait", "--message", "ship v2")
    assert r.rc == 0, r
    assert "replace   3 instances: 0-2" in r.out, r
    wait_for("every instance on v2", lambda: running_on_versions(c, "v2", 3))
    assert not processes_with(marker(c, "v1"))
    cmd = c.job(KEY)["config"]["task"]["processes"][0]["cmdline"]
    assert marker(c, "v2") in cmd
    # The same file again: nothing to do.
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=3, batch=2))
    assert r.rc == 0 and "is unchanged" in r.out, r
    # The history names who started it, why, and every instance's steps.
    r = c.cli("update", "info", KEY)
    assert r.rc == 0, r
    assert "ROLLED_FORWARD" in r.out and "ship v2" in r.out, r
    info = c.api(f"/api/v1/jobs/{KEY}/updates/latest")["update"]
    steps = collections.defaultdict(list)
    for e in info["events"]:
        steps[e["instance"]].append(e["what"])
    for i in range(3):
        assert steps[i] == ["INSTANCE_UPDATING", "INSTANCE_UPDATED"], steps
    assert steps[-1] == ["ROLLING_FORWARD", "ROLLED_FORWARD"], steps
    assert info["events"][0]["message"] == "ship v2" and info["events"][0]["user"]


def test_bad_version_rolls_back_to_the_old_config(running):
    c = running
    create(c, "v1", instances=3)
    bad = c.job_file(job(marker(c, "bad"), instances=3, watch=2, cmd="exit 1"), "bad.yaml")
    r = c.cli("update", "start", KEY, bad, "--wait")
    assert r.rc == 4, r
    assert "ROLLED_BACK" in r.err, r
    wait_for("every instance back on v1", lambda: running_on_versions(c, "v1", 3))
    u = latest(c)
    assert u["status"] == "ROLLED_BACK", u
    whats = [e["what"] for e in u["events"]]
    assert "INSTANCE_UPDATE_FAILED" in whats and "INSTANCE_ROLLED_BACK" in whats, whats
    assert "ROLLING_BACK" in whats
    cmd = c.job(KEY)["config"]["task"]["processes"][0]["cmdline"]
    assert marker(c, "v1") in cmd


def test_pause_resume_abort_and_kill_refused(running):
    c = running
    create(c, "v1", instances=2)
    # A watch long enough that the update stays in flight.
    slow = update_file(c, "v2", instances=2, watch=3600)
    r = c.cli("update", "start", KEY, slow, "--message", "slow")
    assert r.rc == 0 and "Started update" in r.out, r
    await_status(c, "ROLLING_FORWARD")
    # Kills and a second update are refused while it runs.
    r = c.cli("job", "killall", KEY)
    assert r.rc != 0 and "active update" in r.err, r
    r = c.cli("job", "kill", KEY + "/0")
    assert r.rc != 0 and "active update" in r.err, r
    r = c.cli("update", "start", KEY, update_file(c, "v3", instances=2))
    assert r.rc == 4 and "already has an active update" in r.err, r
    # The same request again is that update, not a second one.
    r = c.cli("update", "start", KEY, slow)
    assert r.rc == 0 and "already rolling this config out" in r.out, r
    assert len(c.api(f"/api/v1/jobs/{KEY}/updates")["updates"]) == 1

    r = c.cli("update", "pause", KEY, "--message", "hold on")
    assert r.rc == 0 and "ROLL_FORWARD_PAUSED" in r.out, r
    r = c.cli("update", "pause", KEY)
    assert r.rc == 4 and "cannot be paused" in r.err, r
    r = c.cli("update", "resume", KEY)
    assert r.rc == 0 and "ROLLING_FORWARD" in r.out, r
    r = c.cli("update", "abort", KEY, "--message", "changed my mind")
    assert r.rc == 0 and "ABORTED" in r.out, r
    u = latest(c)
    assert u["status"] == "ABORTED"
    users = [(e["what"], e["message"]) for e in u["events"] if e["instance"] == -1]
    assert ("ROLL_FORWARD_PAUSED", "hold on") in users and ("ABORTED", "changed my mind") in users, users
    r = c.cli("update", "abort", KEY)
    assert r.rc == 4 and "no active update" in r.err, r
    r = c.cli("update", "wait", KEY)
    assert r.rc == 4, r
    # Now the job may be killed.
    r = c.cli("job", "killall", KEY)
    assert r.rc == 0, r


def test_update_survives_scheduler_kill9(running):
    c = running
    create(c, "v1", instances=3)
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=3, watch=2))
    assert r.rc == 0, r
    wait_for("instance 0 updating", lambda: any(
        e["instance"] == 0 and e["what"] == "INSTANCE_UPDATING" for e in latest(c)["events"]))
    c.kill9(c.sched)
    c.start_scheduler()
    r = c.cli("update", "wait", KEY, "--wait-timeout", "120s")
    assert r.rc == 0, r
    wait_for("every instance on v2", lambda: running_on_versions(c, "v2", 3))
    u = latest(c)
    assert u["status"] == "ROLLED_FORWARD"
    updated = [e["instance"] for e in u["events"] if e["what"] == "INSTANCE_UPDATED"]
    assert sorted(updated) == [0, 1, 2], u["events"]


def test_canary_instances_then_the_rest(running):
    c = running
    create(c, "v1", instances=3)
    r = c.cli("update", "start", KEY + "/0-1", update_file(c, "v2", instances=3), "--wait")
    assert r.rc == 0, r
    assert "replace   2 instances: 0-1" in r.out, r
    wait_for("canaries on v2, the rest on v1", lambda: sorted(processes_with(marker(c, "v2"))) == ["0", "1"]
             and sorted(processes_with(marker(c, "v1"))) == ["2"])
    # Then the rest: the canaries already run this config.
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=3), "--wait")
    assert r.rc == 0, r
    assert "replace   1 instance: 2" in r.out and "unchanged 2 instances: 0-1" in r.out, r
    wait_for("every instance on v2", lambda: running_on_versions(c, "v2", 3))


def test_rolling_restart_keeps_the_others_running(running):
    c = running
    before = create(c, "v1", instances=3)
    r = c.cli("job", "restart", KEY, "--batch-size", "1", "--watch-secs", "1", "--message", "new certs")
    assert r.rc == 0 and "Restarting 3 instances" in r.out, r
    # Observe it through the API while it runs: never fewer than N - batch
    # instances RUNNING.
    low, deadline = 3, time.monotonic() + 90
    while True:
        u = latest(c)
        ts = c.tasks(KEY)
        low = min(low, sum(t["state"] == "RUNNING" for t in ts.values()))
        if u["status"] != "ROLLING_FORWARD":
            break
        assert time.monotonic() < deadline, f"restart still {u['status']} after 90s"
        time.sleep(0.05)  # the sampling interval of the observation
    assert u["status"] == "ROLLED_FORWARD", u
    assert low >= 2, low
    after = c.wait_running(KEY, 3)
    for i in range(3):
        assert after[i]["id"] != before[i]["id"]
        assert after[i]["executor_pid"] != before[i]["executor_pid"]
    wait_for("one v1 process per instance", lambda: running_on_versions(c, "v1", 3))
    assert [e["message"] for e in latest(c)["events"] if e["instance"] == -1][0] == "new certs"
    # A restart has nothing to roll back to; a job without live instances
    # has nothing to restart.
    r = c.cli("update", "rollback", KEY)
    assert r.rc == 4, r
    r = c.cli("job", "restart", KEY + "/7")
    assert r.rc == 4 and "no live instance to restart" in r.err, r


def test_variable_batches_with_autopause(running):
    c = running
    create(c, "v1", instances=4)
    extra = "\n      strategy: variable\n      batch_sizes: [1, 3]\n      autopause_after_batch: true"
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=4, watch=0, extra=extra))
    assert r.rc == 0, r
    # The first batch (one instance), then a pause.
    await_status(c, "ROLL_FORWARD_PAUSED")
    wait_for("instance 0 on v2, the rest on v1", lambda: sorted(processes_with(marker(c, "v2"))) == ["0"]
             and sorted(processes_with(marker(c, "v1"))) == ["1", "2", "3"])
    assert latest(c)["batches"] == 1
    r = c.cli("update", "resume", KEY)
    assert r.rc == 0, r
    # The second batch holds the other three: no pause is left after it.
    r = c.cli("update", "wait", KEY)
    assert r.rc == 0, r
    wait_for("every instance on v2", lambda: running_on_versions(c, "v2", 4))
    u = latest(c)
    assert u["batches"] == 2 and u["settings"]["strategy"] == "variable", u
    assert [e["message"] for e in u["events"] if e["what"] == "ROLL_FORWARD_PAUSED"] == ["autopause after batch 1"]


def test_pulses_block_without_and_proceed_with(running):
    c = running
    create(c, "v1", instances=2)
    extra = "\n      pulse_interval_secs: 3600"
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=2, watch=0, extra=extra))
    assert r.rc == 0, r
    u = await_status(c, "ROLL_FORWARD_AWAITING_PULSE")
    # Nothing moves while it waits.
    assert not any(e["what"] == "INSTANCE_UPDATING" for e in u["events"]), u
    assert sorted(processes_with(marker(c, "v1"))) == ["0", "1"]
    r = c.cli("update", "pulse", KEY, "--message", "canary checks ok")
    assert r.rc == 0 and "ROLLING_FORWARD" in r.out, r
    r = c.cli("update", "wait", KEY)
    assert r.rc == 0, r
    wait_for("every instance on v2", lambda: running_on_versions(c, "v2", 2))
    # An update without pulse_interval_secs takes none.
    r = c.cli("update", "start", KEY, update_file(c, "v3", instances=2, watch=3600))
    assert r.rc == 0, r
    r = c.cli("update", "pulse", KEY)
    assert r.rc == 4 and "takes no pulses" in r.err, r
    r = c.cli("update", "abort", KEY)
    assert r.rc == 0, r


def test_job_start_brings_a_killed_instance_back(running):
    c = running
    before = create(c, "v1", instances=3)
    r = c.cli("job", "kill", KEY + "/1")
    assert r.rc == 0, r
    wait_for("instance 1 killed, 0 and 2 live",
             lambda: c.tasks(KEY)[1]["state"] == "KILLED" and sorted(processes_with(marker(c, "v1"))) == ["0", "2"])
    r = c.cli("job", "start", KEY + "/1-2", "--wait", "--message", "back after the incident")
    assert r.rc == 0, r
    assert "Instance 2 is already running" in r.out, r
    assert "add       1 instance: 1" in r.out, r
    assert "ended ROLLED_FORWARD" in r.out, r
    wait_for("three v1 instances again", lambda: running_on_versions(c, "v1", 3))
    after = c.tasks(KEY)
    assert after[1]["state"] == "RUNNING" and after[1]["id"] != before[1]["id"]
    assert [after[i]["id"] for i in (0, 2)] == [before[i]["id"] for i in (0, 2)]
    u = latest(c)
    assert u["summary"]["add"] == [1] and u["events"][0]["message"] == "back after the incident", u
    # Nothing left to start: said so, exit 0, no update.
    r = c.cli("job", "start", KEY)
    assert r.rc == 0 and "Instances 0-2 are already running" in r.out and "no killed instance" in r.out, r
    assert latest(c)["id"] == u["id"]
    # An instance the job does not have: refused, naming it.
    r = c.cli("job", "start", KEY + "/1,5")
    assert r.rc == 6 and "has no instance 5 (its instances are 0-2)" in r.err, r
    r = c.cli("job", "start", KEY + "/x")
    assert r.rc == 6, r
    # Every instance killed: all come back.
    r = c.cli("job", "kill", KEY)
    assert r.rc == 0, r
    wait_for("every instance killed", lambda: all(t["state"] == "KILLED" for t in c.tasks(KEY).values())
             and not processes_with(marker(c, "v1")))
    r = c.cli("job", "start", KEY, "--wait")
    assert r.rc == 0 and "add       3 instances: 0-2" in r.out, r
    wait_for("three v1 instances again", lambda: running_on_versions(c, "v1", 3))


def test_job_add_clones_an_instance(running):
    c = running
    create(c, "v1", instances=3)
    # Instance 0 a canary on v2: the clones run v2, not the job's v1.
    r = c.cli("update", "start", KEY + "/0", update_file(c, "v2", instances=3), "--wait")
    assert r.rc == 0, r
    r = c.cli("job", "add", KEY + "/0", "2", "--wait", "--message", "more capacity")
    assert r.rc == 0, r
    assert "add       2 instances: 3-4" in r.out and "ended ROLLED_FORWARD" in r.out, r
    c.wait_running(KEY, 5)
    wait_for("v2 on 0, 3 and 4; v1 on 1 and 2",
             lambda: sorted(processes_with(marker(c, "v2"))) == ["0", "3", "4"]
             and sorted(processes_with(marker(c, "v1"))) == ["1", "2"])
    assert c.job(KEY)["job"]["instances"] == 5
    assert latest(c)["summary"]["add"] == [3, 4]
    # A missing instance, a count past the job's limit, a bad count.
    r = c.cli("job", "add", KEY + "/9", "1")
    assert r.rc == 6 and "has no instance 9 to clone" in r.err, r
    r = c.cli("job", "add", KEY + "/0", "3996")
    assert r.rc == 6 and "would make 4001: a job has at most 4000 instances" in r.err, r
    r = c.cli("job", "add", KEY + "/0", "0")
    assert r.rc == 6 and "COUNT" in r.err, r
    r = c.cli("job", "add", KEY, "1")
    assert r.rc == 6 and "no instance to clone" in r.err, r
    assert c.job(KEY)["job"]["instances"] == 5
    # The routes themselves, with malformed bodies: a 400 naming the field.
    for route, body, says in [
            ("add", b'{"instance": 0}', b"`count` is missing"),
            ("add", b'{"instance": -1, "count": 1}', b"`instance` must be an integer"),
            ("add", b'{"instance": 0, "count": 1, "instances": [1]}', b"unknown field `instances` in add"),
            ("start", b'{"instances": "1"}', b"`instances` must be a list"),
            ("start", b'{"instance": 1}', b"unknown field `instance` in start"),
            ("start", b'[1]', b"must be a JSON object")]:
        status, answer = c.api_raw(f"/api/v1/jobs/{KEY}/{route}", "POST", body)
        assert status == 400 and says in answer, (route, body, status, answer)
    assert c.job(KEY)["job"]["instances"] == 5


def test_a_full_update_during_a_same_config_canary_is_not_taken_for_a_retry(running):
    c = running
    create(c, "v1", instances=3)
    # The canary watches long, so it is still active when the full update
    # of the same config comes.
    r = c.cli("update", "start", KEY + "/0-1", update_file(c, "v2", instances=3, watch=600))
    assert r.rc == 0, r
    canary = latest(c)["id"]
    assert latest(c)["scope"] == [0, 1]
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=3))
    # Refused as any second update is, naming the canary; not answered
    # with the canary as if it were the update just asked for.
    assert r.rc == 4, r
    assert f"already has an active update {canary}" in r.err and "Started update" not in r.out, r
    assert latest(c)["id"] == canary
    r = c.cli("update", "abort", KEY)
    assert r.rc == 0, r
    await_status(c, "ABORTED")
    # Once it is over, the full update starts (its own id).
    r = c.cli("update", "start", KEY, update_file(c, "v2", instances=3, watch=0), "--wait")
    assert r.rc == 0 and latest(c)["id"] != canary and latest(c)["scope"] is None, r


def test_job_start_of_an_ended_batch_instance_says_why_not(running):
    c = running
    key = "local/www-data/prod/batch"
    text = """
jobs:
  - cluster: local
    role: www-data
    environment: prod
    name: batch
    instances: 2
    task:
      resources: {cpu: 0.01, ram: 8MiB, disk: 0}
      processes:
        - name: main
          cmdline: "true"
"""
    r = c.cli("job", "create", key, c.job_file(text, "batch.yaml"), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    r = c.cli("job", "start", key + "/1")
    assert r.rc == 4, r
    assert (f"Instance 1 of batch job {key} ended FINISHED: a batch job's instances are not started again once "
            "they have ended") in r.err and "already running" not in r.out, r
    r = c.cli("job", "start", key)
    assert r.rc == 4 and "Instance 0 of batch job" in r.err and "Instance 1 of batch job" in r.err, r
    assert all(t["state"] == "FINISHED" for t in c.tasks(key).values())
