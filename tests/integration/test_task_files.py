"""`borealis task files` and `task cp`: a task's sandbox listed and its
files read through the scheduler from the agent, which refuses every way
out of the sandbox, including symlinks the task itself made to
/etc/shadow and into another task's sandbox."""
import hashlib
import os

from conftest import wait_for

VICTIM = "local/www-data/devel/victim"
TOOLS = "local/www-data/devel/tools"


def job(name, cmdline):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    service: true
    task:
      resources: {{cpu: 0.05, ram: 16MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "{cmdline}"
"""


def setup_tasks(c):
    r = c.cli("job", "create", VICTIM, c.job_file(job("victim", "echo victim-secret > secret; exec sleep 600"),
                                                  "victim.yaml"), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    victim_id = c.tasks(VICTIM)[0]["id"]
    # The task plants every way out it can: an absolute symlink to
    # /etc/shadow, a relative one into the other task's sandbox, and `..`.
    cmd = ("printf 'hello\\\\n' > hello.txt; mkdir sub; head -c 600000 /dev/urandom > sub/big.bin; "
           "ln -s /etc/shadow shadow; ln -s ../{{other}}/secret other; ln -s .. up; ln -s hello.txt ok; "
           "ln -s .borealis meta; "
           "mkfifo fifo; exec sleep 600")
    r = c.cli("job", "create", TOOLS, c.job_file(job("tools", cmd), "tools.yaml"), "--bind", "other=" + victim_id,
              "--wait-until", "RUNNING")
    assert r.rc == 0, r
    sandbox = os.path.join(c.root, "agent", "sandboxes", c.tasks(TOOLS)[0]["id"])
    wait_for("the task's files", lambda: os.path.exists(os.path.join(sandbox, "fifo")))
    return sandbox, victim_id


def test_files_lists_the_sandbox_and_cp_copies_a_file(running):
    c = running
    sandbox, _ = setup_tasks(c)
    r = c.cli("task", "files", TOOLS + "/0")
    assert r.rc == 0, r
    for name in (".logs", "hello.txt", "sub", "shadow -> /etc/shadow", "fifo"):
        assert name in r.out, (name, r)
    r = c.cli("task", "files", TOOLS + "/0", "--json")
    entries = {e["name"]: e for e in r.json()["entries"]}
    assert entries["hello.txt"]["type"] == "file" and entries["hello.txt"]["size"] == 6
    assert entries["sub"]["type"] == "dir" and entries["shadow"]["type"] == "symlink"
    # A name with a newline (the task's choice) cannot forge a row.
    open(os.path.join(sandbox, "x\ny"), "w").close()
    r = c.cli("task", "files", TOOLS + "/0")
    assert r.rc == 0 and "x?y" in r.out and "x\ny" not in r.out, r
    r = c.cli("task", "files", TOOLS + "/0", "sub")
    assert r.rc == 0 and "big.bin" in r.out, r
    r = c.cli("task", "files", TOOLS + "/0", "hello.txt")
    assert r.rc == 0 and r.out == "hello\n", r
    # A symlink that stays inside the sandbox is followed.
    r = c.cli("task", "files", TOOLS + "/0", "ok")
    assert r.rc == 0 and r.out == "hello\n", r
    # cp: binary, more than one 256 KiB chunk, into a folder under its name.
    dest = os.path.join(c.root, "copies")
    os.mkdir(dest)
    r = c.cli("task", "cp", TOOLS + "/0:sub/big.bin", dest)
    assert r.rc == 0, r
    with open(os.path.join(sandbox, "sub", "big.bin"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(dest, "big.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == want
    r = c.cli("task", "cp", TOOLS + "/0:hello.txt", os.path.join(dest, "h"))
    assert r.rc == 0 and open(os.path.join(dest, "h")).read() == "hello\n", r
    r = c.cli("task", "cp", TOOLS + "/0:sub", os.path.join(dest, "x"))
    assert r.rc == 6 and "folder" in r.err, r


def test_every_way_out_of_the_sandbox_is_refused(running):
    c = running
    _, victim_id = setup_tasks(c)
    outside = ["..", "../" + victim_id + "/secret", "/etc/shadow", "/", "shadow", "other", "up",
               "up/" + victim_id + "/secret", "sub/../../" + victim_id, "./sub/../.."]
    for path in outside:
        for args in (["task", "files", TOOLS + "/0", path], ["task", "cp", f"{TOOLS}/0:{path}", c.root + "/o"]):
            r = c.cli(*args)
            assert r.rc == 6, (args, r)
            assert "outside the task's sandbox" in r.err or "absolute path" in r.err, (args, r)
            assert "refused" in r.err and "victim-secret" not in r.out and "root:" not in r.out, (args, r)
    assert not os.path.exists(c.root + "/o")
    # Not a regular file: a fifo would block a reader.
    r = c.cli("task", "files", TOOLS + "/0", "fifo")
    assert r.rc == 4 and "fifo" in r.err, r
    r = c.cli("task", "files", TOOLS + "/0", "nope")
    assert r.rc == 10 and "no `nope`" in r.err, r
    # The victim's own sandbox is its own to read.
    r = c.cli("task", "files", VICTIM + "/0", "secret")
    assert r.rc == 0 and r.out == "victim-secret\n", r


def test_a_principal_without_the_role_cannot_read_files(running):
    c = running
    setup_tasks(c)
    r = c.cli("token", "create", "eve", "--role", "nobody")
    assert r.rc == 0, r
    path = os.path.join(c.root, "eve.token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(r.out.strip() + "\n")
    env = dict(os.environ, BOREALIS_TOKEN_FILE=path)
    for args in (["task", "files", VICTIM + "/0"], ["task", "cp", VICTIM + "/0:secret", c.root + "/stolen"]):
        r = c.cli(*args, env=env)
        assert r.rc == 30 and "role `www-data`" in r.err, (args, r)
    assert not os.path.exists(c.root + "/stolen")


def test_cp_to_the_sandbox_writes_as_the_task_and_refuses_every_way_out(running):
    c = running
    sandbox, victim_id = setup_tasks(c)
    big, small = os.path.join(c.root, "up.bin"), os.path.join(c.root, "small.txt")
    with open(big, "wb") as f:
        f.write(os.urandom(500000))
    with open(small, "w") as f:
        f.write("abc")
    r = c.cli("task", "cp", big, TOOLS + "/0:sub/up.bin")
    assert r.rc == 0, r
    dest = os.path.join(sandbox, "sub", "up.bin")
    assert open(dest, "rb").read() == open(big, "rb").read()
    assert os.stat(dest).st_uid == os.stat(sandbox).st_uid != 0  # the task's own file
    r = c.cli("task", "cp", small, TOOLS + "/0:sub/up.bin")  # replaced, not patched
    assert r.rc == 0 and open(dest).read() == "abc", r
    shadow_before = open("/etc/shadow", "rb").read()
    victim_file = os.path.join(c.root, "agent", "sandboxes", victim_id, "secret")
    refused = {"../x": 6, "/tmp/x": 6, "up/x": 6, "sub/../../x": 6,
               "shadow": 4, "other": 4, "fifo": 4, ".borealis/status.json": 4, ".borealis": 4, "meta/status.json": 4, "sub/": 6}
    for path, code in refused.items():
        r = c.cli("task", "cp", small, f"{TOOLS}/0:{path}")
        assert r.rc == code and "refused" in r.err or (code == 6 and "file" in r.err), (path, r)
    assert open("/etc/shadow", "rb").read() == shadow_before
    assert open(victim_file).read() == "victim-secret\n"
    assert not os.path.exists(os.path.join(c.root, "agent", "sandboxes", "x"))
    assert "abc" not in open(os.path.join(sandbox, ".borealis", "status.json")).read()
    # Writing needs permission to act on the role: reading is not enough.
    r = c.cli("token", "create", "reader", "--read-all")
    path = os.path.join(c.root, "reader.token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(r.out.strip() + "\n")
    r = c.cli("task", "cp", small, TOOLS + "/0:mine.txt", env=dict(os.environ, BOREALIS_TOKEN_FILE=path))
    assert r.rc == 30 and "permission to act on role `www-data`" in r.err, r
    assert not os.path.exists(os.path.join(sandbox, "mine.txt"))
