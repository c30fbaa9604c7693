"""The scheduler trusts no stored row and never mistakes a lost store for a
new cluster: a damaged row, a truncated store or a data directory whose
store is gone make it refuse to start (exit 3) with a message naming the
file (and the row), rather than crash or start empty."""
import contextlib
import os
import sqlite3
import subprocess

from conftest import BOREALIS, free_port

STORE_REFUSED = 3


def scheduler(c, *extra):
    """Run a scheduler that is expected to refuse to start."""
    proc = subprocess.run(
        [BOREALIS, "scheduler", "--data-dir", os.path.join(c.root, "scheduler"),
         "--port", str(c.port), "--sync", "normal"] + list(extra),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc


def assert_clean_refusal(proc, *needles):
    out = proc.stdout + proc.stderr
    assert proc.returncode == STORE_REFUSED, out
    for n in needles:
        assert n in out, out
    # No sanitizer report (the daemons run under ASan/UBSan in make test).
    for bad in ("Sanitizer", "runtime error", "heap-buffer-overflow"):
        assert bad not in out, out


def make_job(c):
    """A scheduler with one job (no agent: its tasks stay PENDING), stopped."""
    c.start_scheduler()
    c.api("/api/v1/jobs", "POST", {
        "cluster": "local", "role": "r", "environment": "devel", "name": "web", "instances": 2,
        "task": {"resources": {"cpu": 0.01, "ram": 1 << 20, "disk": 0},
                 "processes": [{"name": "p", "cmdline": "sleep 60"}]}})
    assert c.stop(c.sched) == 0
    return os.path.join(c.root, "scheduler", "scheduler.db")


def test_damaged_task_row_refuses_start_naming_the_row(cluster):
    db = make_job(cluster)
    # Closed before the scheduler starts: it owns its store, and an open
    # connection (sqlite3's `with` only commits) would make it refuse.
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        (task_id,) = con.execute(
            "SELECT id FROM kv_task WHERE json_extract(value, '$.instance') = 1").fetchone()
        con.execute("UPDATE kv_task SET value = json_set(value, '$.instance', -3) WHERE id = ?",
                    (task_id,))
    proc = scheduler(cluster)
    assert_clean_refusal(proc, f"store `{db}`: table kv_task, id `{task_id}`: ",
                         "field `instance` is -3")


def test_truncated_store_refuses_start_unless_new_cluster(cluster):
    db = make_job(cluster)
    os.truncate(db, 0)
    proc = scheduler(cluster)
    assert_clean_refusal(proc, f"store `{db}` is empty (0 bytes)", "--new-cluster")
    # The operator's explicit choice: a new, empty cluster.
    cluster.scheduler_args += ["--new-cluster"]
    cluster.start_scheduler()
    assert cluster.api("/api/v1/jobs")["jobs"] == []


def test_data_dir_without_its_store_refuses_start(cluster):
    db = make_job(cluster)
    os.unlink(db)
    data = os.path.dirname(db)
    with open(os.path.join(data, "notes.txt"), "w") as f:
        f.write("not a store\n")
    proc = scheduler(cluster)
    assert_clean_refusal(proc, f"data directory `{data}` holds files", "no store `scheduler.db`")
    # An empty data directory is a new cluster (as every fixture starts);
    # its TLS directory (CA, join token) holds no cluster state.
    for name in os.listdir(data):
        if name != "tls":
            os.unlink(os.path.join(data, name))
    cluster.start_scheduler()
    assert cluster.api("/api/v1/jobs")["jobs"] == []


def test_a_second_scheduler_on_the_same_data_dir_is_refused(cluster):
    """The running scheduler owns its store (SQLite's exclusive locking
    mode): another one started on the same data directory must not read or
    write it, and says why; the first keeps serving."""
    c = cluster
    c.start_scheduler()
    c.api("/api/v1/jobs", "POST", {
        "cluster": "local", "role": "r", "environment": "devel", "name": "web", "instances": 1,
        "task": {"resources": {"cpu": 0.01, "ram": 1 << 20, "disk": 0},
                 "processes": [{"name": "p", "cmdline": "sleep 60"}]}})
    db = os.path.join(c.root, "scheduler", "scheduler.db")
    assert not os.path.exists(db + "-shm")  # the WAL index is in the owner's memory
    proc = subprocess.run(
        [BOREALIS, "scheduler", "--data-dir", os.path.join(c.root, "scheduler"),
         "--port", str(free_port()), "--sync", "normal"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert_clean_refusal(proc, f"store `{db}` is in use by another process", "one scheduler owns a store")
    assert c.sched.poll() is None
    assert c.api("/api/v1/jobs/local/r/devel/web")["tasks"], "the first scheduler lost its job"
    assert c.stop(c.sched) == 0
    # Released at exit: the next scheduler opens it and has the job.
    c.start_scheduler()
    assert c.api("/api/v1/jobs/local/r/devel/web")["tasks"]
