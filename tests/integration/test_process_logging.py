"""Process logging options (docs/jobs.md "Process logs"): rotation by size
with N backups done by the executor, `task logs --tail` and `--follow`
across the rotated files, and the destinations file, console, both and
none, on real daemons through the CLI."""
import os
import re

from test_task_logs import Follower, create, sandbox

BATCH = "local/www-data/devel/logbatch"
SERVICE = "local/www-data/devel/logsvc"


def job(name, processes, service=False):
    """processes: (name, cmdline, logging YAML flow mapping or None)."""
    lines = "".join(f"""
        - name: {n}
          cmdline: "{cmd}"
""" + (f"""          logging: {lg}
""" if lg else "") for n, cmd, lg in processes)
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    service: {"true" if service else "false"}
    task:
      resources: {{cpu: 0.05, ram: 16MiB, disk: 0}}
      processes:{lines}"""


def read(path):
    with open(path, "rb") as f:
        return f.read().decode()


def numbers(text):
    """The numbers of the `line-N` lines of text, in order."""
    return [int(n) for n in re.findall(r"^line-(\d+)$", text, re.M)]


def test_rotation_keeps_n_backups_within_the_size_bound_and_tail_reads_across_them(running):
    c = running
    # 20000 lines of 11 bytes (220 KB) through 4 KiB files: ~55
    # rotations, of which 3 backups are kept. seq writes in 4 KiB blocks
    # that cut lines anywhere, which the executor's cuts must cope with.
    create(c, BATCH, job("logbatch", [("main", "seq -f line-%05g 1 20000",
                                       "{mode: rotate, log_size: 4KiB, backups: 3}")]), "FINISHED")
    logs = os.path.join(sandbox(c, BATCH), ".logs", "main")
    assert sorted(os.listdir(logs)) == ["stderr", "stdout", "stdout.1", "stdout.2", "stdout.3"]
    files = [os.path.join(logs, n) for n in ("stdout.3", "stdout.2", "stdout.1", "stdout")]
    for p in files:
        assert os.path.getsize(p) <= 4096, p
    for p in files[:-1]:
        assert os.path.getsize(p) > 4096 - 12, p  # full, but for the last line that did not fit
    kept = "".join(read(p) for p in files)
    got = numbers(kept)
    assert got[-1] == 20000 and got == list(range(got[0], 20001)), got[:5]

    # `task logs` shows the whole log kept, oldest first; --tail reaches
    # back through the backups for as many lines as asked.
    r = c.cli("task", "logs", BATCH + "/0")
    assert r.rc == 0 and r.out == kept, r.err
    r = c.cli("task", "logs", BATCH + "/0", "--tail", "1000")
    assert r.rc == 0 and numbers(r.out) == list(range(19001, 20001)) and r.out.count("\n") == 1000, r.out[:200]


def test_follow_sees_every_line_across_rotations_in_order(running):
    c = running
    # Waits for `go`, then writes 3000 numbered lines in bursts through
    # 4 KiB files: ~8 rotations while the follower reads.
    cmd = ("echo ready; while [ ! -e go ]; do sleep 0.05; done; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); "
           "printf 'line-%05d\\\\n' $i; [ $((i % 200)) -eq 0 ] && sleep 0.05; done; exec sleep 600")
    create(c, SERVICE, job("logsvc", [("main", cmd, "{mode: rotate, log_size: 4KiB, backups: 20}")], service=True))
    f = Follower(c, "task", "logs", SERVICE + "/0", "--follow")
    try:
        f.wait_for("ready\n")
        open(os.path.join(sandbox(c, SERVICE), "go"), "w").close()
        out = f.wait_for("line-03000\n")
        assert numbers(out) == list(range(1, 3001)), "a gap or a repeat"
        assert out == "ready\n" + "".join(f"line-{i:05d}\n" for i in range(1, 3001))
        assert f.p.poll() is None  # still following the running task
    finally:
        f.stop()
    logs = os.path.join(sandbox(c, SERVICE), ".logs", "main")
    assert os.path.exists(os.path.join(logs, "stdout.6")), os.listdir(logs)  # it did rotate, several times
    # A reader that comes later gets the same whole log.
    r = c.cli("task", "logs", SERVICE + "/0")
    assert r.rc == 0 and r.out == out, r.err


def test_destinations_none_console_and_both(running):
    c = running
    create(c, BATCH, job("logbatch", [
        ("quiet", "echo quiet-out; echo quiet-err >&2", "{destination: none}"),
        ("cons", "echo cons-out; echo cons-err >&2", "{destination: console}"),
        ("both", "echo both-out; echo both-err >&2", "{destination: both, mode: rotate, log_size: 1KiB}"),
        ("plain", "echo plain-out", None),
    ]), "FINISHED")
    box = sandbox(c, BATCH)
    logs = os.path.join(box, ".logs")
    executor_log = read(os.path.join(box, ".borealis", "executor.log"))
    # none: nothing written anywhere (the empty files say the process ran).
    assert read(os.path.join(logs, "quiet", "stdout")) == "" and read(os.path.join(logs, "quiet", "stderr")) == ""
    assert "quiet-" not in executor_log
    r = c.cli("task", "logs", BATCH + "/0", "quiet")
    assert r.rc == 0 and r.out == "", r
    # console: the executor's stdout and stderr, which the agent keeps in
    # the sandbox's .borealis/executor.log; not in .logs.
    assert "cons-out\n" in executor_log and "cons-err\n" in executor_log
    assert read(os.path.join(logs, "cons", "stdout")) == ""
    # both: the two.
    assert "both-out\n" in executor_log and "both-err\n" in executor_log
    assert read(os.path.join(logs, "both", "stdout")) == "both-out\n"
    assert read(os.path.join(logs, "both", "stderr")) == "both-err\n"
    r = c.cli("task", "logs", BATCH + "/0", "both", "--stderr")
    assert r.rc == 0 and r.out == "both-err\n", r
    # file, the default, as before.
    assert read(os.path.join(logs, "plain", "stdout")) == "plain-out\n"
    assert "plain-out" not in executor_log


def test_bad_logging_fields_are_refused_naming_the_field(running):
    c = running
    for lg, msg in [
        ("{destination: syslog}", "task.processes[0].logging.destination: must be \"file\" or \"console\""),
        ("{destination: console, mode: rotate}",
         "task.processes[0].logging: mode rotate needs destination file or both, not console"),
        ("{mode: rotate, log_size: 10}", "task.processes[0].logging.log_size: must be at least 1KiB"),
        ("{mode: rotate, backups: 0}", "task.processes[0].logging.backups: must be between 1 and 100"),
        ("{backups: 3}", "task.processes[0].logging: log_size and backups apply to mode rotate only"),
        ("{rotate: {log_size: 1MiB}}", "rotate"),
    ]:
        r = c.cli("job", "create", BATCH, c.job_file(job("logbatch", [("main", "true", lg)]), "bad.yaml"))
        assert r.rc != 0 and msg in r.err, (lg, r.err)
