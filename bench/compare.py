#!/usr/bin/python3
"""Borealis beside Docker Swarm, one table (BENCH_PEER=swarm, bench/run.sh).

    compare.py BOREALIS.json BOREALIS_UPDATE.json SWARM.kv

BOREALIS.json: bench/bench.py's BENCH_JSON of the submit run (BENCH_TASKS
container tasks from a cached image); BOREALIS_UPDATE.json: the same for
the rolling-update run (BENCH_UPDATE_TASKS instances); SWARM.kv: the
key=value lines of bench/swarm.sh (BENCH_SWARM_OUT). Prints a markdown
table, with Swarm's figure divided by Borealis's where less is better.
Missing figures print as "-"; it never fails on timing.
"""
import json
import statistics
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k:
                    out[k] = v
    except OSError:
        pass
    return out


def num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def med(doc, key):
    """Median over the runs of a bench.py JSON (None if absent)."""
    if not doc:
        return None
    vals = [num(r.get(key)) for r in doc.get("runs", [])]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    b, bu, s = load_json(argv[1]), load_json(argv[2]), load_kv(argv[3])
    n = (b or {}).get("n", s.get("n", "?"))
    nu = (bu or {}).get("n", s.get("update_n", "?"))
    batch = s.get("update_batch", "5")
    runs = len((b or {}).get("runs", []))

    def mib(kib):
        return None if kib is None else kib / 1024.0

    def add(*xs):
        return None if any(x is None for x in xs) else sum(xs)

    # Borealis: agent + executors (the per-machine cost, as dockerd +
    # containerd + shims are); the scheduler is listed apart (Swarm's
    # manager lives inside dockerd).
    agent = mib(med(b, "agent_run_kib"))
    execs = mib(med(b, "exec_total_kib"))
    dockerd = mib(num(s.get("dockerd_run_kib")))
    containerd = mib(num(s.get("containerd_run_kib")))
    shims = mib(num(s.get("shim_total_kib")))
    rows = [
        # (figure, unit, Borealis, Swarm, ratio?)
        (f"submit -> all {n} running", "s", med(b, "run_s"), num(s.get("run_s")), True),
        ("per task, p50 (running after create)", "s", med(b, "p50_s"), num(s.get("p50_s")), True),
        ("per task, p99", "s", med(b, "p99_s"), num(s.get("p99_s")), True),
        (f"rolling update, {nu} instances, batch {batch}, watch 0", "s",
         med(bu, "update_s"), num(s.get("update_s")), True),
        ("replacement after kill -9 of one task", "s", med(b, "replace_s"), num(s.get("replace_s")), True),
        (f"kill all {n} (killall / service rm)", "s", med(b, "killall_s"), num(s.get("rm_s")), True),
        (f"per-machine daemons, {n} tasks: agent / dockerd + containerd", "MiB",
         agent, add(dockerd, containerd), True),
        (f"per-task processes, {n} tasks: executors / shims (total)", "MiB", execs, shims, True),
        ("machine total: agent + executors / dockerd + containerd + shims", "MiB",
         add(agent, execs), add(dockerd, containerd, shims), True),
        ("per-task processes, PSS (shared pages counted once): executors / shims", "MiB",
         mib(med(b, "exec_pss_total_kib")), mib(num(s.get("shim_pss_total_kib"))), True),
        ("per task (median): executor / shim", "MiB", mib(med(b, "exec_med_kib")),
         mib(num(s.get("shim_med_kib"))), True),
        ("control plane: scheduler / (in dockerd)", "MiB", mib(med(b, "sched_run_kib")), None, False),
        ("load1 at the start", "", med(b, "load1"), num(s.get("load1")), False),
    ]

    def fmt(v, unit):
        if v is None:
            return "-"
        if unit == "s":
            return f"{v:.3f} s"
        if unit == "MiB":
            return f"{v:.1f} MiB"
        return f"{v:.2f}"

    print()
    print(f"Borealis beside Docker Swarm, same run ({s.get('version', 'Docker ?')}); Borealis: median of"
          f" {runs} run(s), container tasks from a cached image; Swarm: one run")
    print()
    print("| figure | Borealis | Docker Swarm | Swarm / Borealis |")
    print("|---|---|---|---|")
    for name, unit, bv, sv, ratio in rows:
        r = f"{sv / bv:.1f}x" if ratio and bv and sv is not None else ""
        print(f"| {name} | {fmt(bv, unit)} | {fmt(sv, unit)} | {r} |")
    tgt = [(name, sv / bv) for name, unit, bv, sv, ratio in rows[:4] if bv and sv is not None]
    upd = [r for r in (bu or {}).get("runs", []) if r.get("upd_inst_ms") is not None]
    if upd:
        m = {k: statistics.median(r[k] for r in upd) for k in
             ("upd_inst_ms", "upd_kill_ms", "upd_place_ms", "upd_start_ms", "upd_react_ms", "upd_first_kill_ms")}
        print()
        print(f"Borealis's update, where the time goes (median ms, scheduler events): an instance takes"
              f" {m['upd_inst_ms']:.0f} from KILLING to the new task RUNNING (kill {m['upd_kill_ms']:.0f},"
              f" terminal -> new ASSIGNED {m['upd_place_ms']:.0f}, ASSIGNED -> RUNNING {m['upd_start_ms']:.0f});"
              f" the next instance's KILLING follows a RUNNING by {m['upd_react_ms']:.0f}; the first KILLING"
              f" comes {m['upd_first_kill_ms']:.0f} after `update start`.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
