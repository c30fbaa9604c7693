"""Messages and help a person reads: one help layout for the daemons and
the commands (from the same option tables as docs/cli.md), "did you mean"
for mistyped commands and options, every error of a job file at once, and
sentences with real dates and the right plurals."""
import os
import re
import subprocess

from conftest import BOREALIS

KEY = "local/www-data/devel/hello"
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def job(instances=1, cmd="exec sleep 100000"):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: hello
    instances: {instances}
    task:
      resources: {{cpu: 0.1, ram: 32MiB, disk: 0}}
      processes:
        - name: hello
          cmdline: "{cmd}"
"""


def cli(*args, timeout=60):
    proc = subprocess.run([BOREALIS] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


# -- one help format ---------------------------------------------------------

def option_column(text):
    """The column where option help texts start, from the -h line."""
    line = next(l for l in text.splitlines() if l.startswith("  -h, --help"))
    return line.index("show this help")


def test_daemons_help_has_the_commands_layout():
    pages = {}
    for prog in ("scheduler", "agent"):
        rc, out, err = cli(prog, "--help")
        assert rc == 0, err
        assert out.startswith(f"Usage: borealis {prog} [OPTIONS]\n\n"), out
        assert "\nOptions:\n" in out and "\nExamples:\n" in out, out
        # `borealis help X` shows the very same page
        rc, same, _ = cli("help", prog)
        assert rc == 0 and same == out
        pages[prog] = out
    rc, create, _ = cli("job", "create", "--help")
    assert rc == 0
    assert option_column(pages["scheduler"]) == option_column(pages["agent"]) == option_column(create)
    assert "  --flap-penalty DURATION" in pages["scheduler"] and "(default: 30s)" in pages["scheduler"]
    assert "  --attribute KEY:VALUE" in pages["agent"] and "(repeatable)" in pages["agent"]


def test_docs_cli_md_is_generated_from_the_tables():
    rc, out, err = cli("help", "--markdown")
    assert rc == 0, err
    with open(os.path.join(ROOT, "docs", "cli.md")) as f:
        assert f.read() == out, "docs/cli.md is stale: run `borealis help --markdown > docs/cli.md`"
    # the daemons' options are in it
    assert "| `--agent-timeout DURATION` |" in out and "| `--cleanup-on-exit` |" in out


def test_job_help_lists_only_existing_commands():
    rc, out, err = cli("job", "--help")
    assert rc == 0, err
    assert "watch" not in out, out


# -- did you mean --------------------------------------------------------------

def test_mistyped_command_gets_a_suggestion():
    rc, out, err = cli("job", "craete", KEY, "x.yaml")
    assert rc == 5, (rc, err)
    assert "unknown command `job craete`; did you mean `create`?" in err, err
    rc, out, err = cli("jbo", "list")
    assert rc == 5 and "did you mean `job`?" in err, err


def test_mistyped_option_gets_a_suggestion(tmp_path):
    rc, out, err = cli("job", "create", KEY, "x.yaml", "--wiat", "RUNNING")
    assert rc == 5, (rc, err)
    assert "unknown option `--wiat`; did you mean `--wait-until` or `--wait-timeout`?" in err, err
    rc, out, err = cli("scheduler", "--data-dri", str(tmp_path))
    assert rc == 2 and "unknown option `--data-dri`; did you mean `--data-dir`?" in err, err
    rc, out, err = cli("agent", "--cleanup-on-exti")
    assert rc == 2 and "did you mean `--cleanup-on-exit`?" in err, err


def test_option_values_are_checked_by_the_table(tmp_path):
    rc, out, err = cli("scheduler", "--data-dir", str(tmp_path), "--port", "70000")
    assert rc == 2 and "--port: 70000 is out of range [0, 65535]" in err, err
    rc, out, err = cli("scheduler", "--data-dir", str(tmp_path), "--sync", "fast")
    assert rc == 2 and "--sync: `fast` must be full or normal" in err, err
    rc, out, err = cli("job", "create", KEY, "x.yaml", "--wait-until", "RUNNING", "--wait-timeout", "0")
    assert rc == 6 and "--wait-timeout: `0` is less than the minimum, 1s" in err, err


# -- job files: every error at once ---------------------------------------------

def test_every_error_of_a_job_file_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(job(instances=0).replace("    task:", "    priorty: 3\n    task:")
                    .replace("ram: 32MiB", "ram: 1KiB"))
    rc, out, err = cli("job", "inspect", KEY, str(path))
    assert rc == 3, (rc, err)
    assert "bad.yaml:8:5: unknown field `priorty` in job; did you mean `priority`?" in err, err
    # once the names are right, every bad value is reported together
    path.write_text(job(instances=0).replace("ram: 32MiB", "ram: 1KiB"))
    rc, out, err = cli("job", "inspect", KEY, str(path))
    assert rc == 3, (rc, err)
    lines = err.strip().splitlines()
    assert lines[0] == "borealis: " + f"{path}:7:16: instances: must be between 1 and 4000", lines
    assert lines[1] == f"{path}:9:34: task.resources.ram: must be at least 1MiB", lines


def test_unclosed_brace_is_reported_on_its_own_line(tmp_path):
    path = tmp_path / "brace.yaml"
    path.write_text("jobs:\n  - cluster: local\n    role: {a: 1\n    name: x\n")
    rc, out, err = cli("job", "inspect", KEY, str(path))
    assert rc == 3, (rc, err)
    assert f"{path}:3:11: YAML syntax error in the flow mapping that starts here" in err, err


# -- sentences -------------------------------------------------------------------

def test_kill_of_a_missing_instance_names_it(running):
    c = running
    assert c.cli("job", "create", KEY, c.job_file(job(instances=2))).rc == 0
    r = c.cli("job", "kill", KEY + "/7")
    assert r.rc == 6, r
    assert f"job {KEY} has no instance 7 (its instances are 0-1)" in r.err, r.err


def test_one_instance_is_singular_and_dates_are_dates(running):
    c = running
    path = c.job_file(job(instances=1))
    r = c.cli("job", "create", KEY, path, "--wait-until", "RUNNING")
    assert r.rc == 0, r
    assert f"Created job {KEY} (1 instance)" in r.out, r.out
    assert f"Job {KEY} is RUNNING (1 of 1 instance)" in r.out, r.out
    r = c.cli("job", "status", KEY)
    assert "1 instance\n" in r.out and "1 instances" not in r.out, r.out
    r = c.cli("job", "create", KEY, path)
    assert r.rc == 10, r
    assert re.search(rf"job {KEY} already exists \(created \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC, 1 instance\)",
                     r.err), r.err
    r = c.cli("job", "kill", KEY + "/1")
    assert r.rc == 6 and f"job {KEY} has no instance 1 (its only instance is 0)" in r.err, r.err


def test_docs_jobs_md_field_table_is_generated_from_the_job_table():
    rc, out, err = cli("help", "--job-fields")
    assert rc == 0, err
    with open(os.path.join(ROOT, "docs", "jobs.md")) as f:
        text = f.read()
    start = text.index("<!-- job-fields:")
    start = text.index("\n", start) + 1
    end = text.index("<!-- end job-fields -->")
    assert text[start:end] == out, "docs/jobs.md's field table is stale: see `borealis help --job-fields`"
    for field in ("`instances`", "`task.resources.ram`", "`task.processes[].cmdline`", "`task.kill_grace_ms`"):
        assert field in out
