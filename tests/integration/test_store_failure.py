"""When the store cannot write (disk full), the scheduler refuses the
write, stops rather than run with memory ahead of its store, and after a
restart with space again every job it acknowledged is there."""
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import wait_for


def job(n):
    return {"cluster": "local", "role": "fill", "environment": "test", "name": f"j{n}",
            "task": {"resources": {"cpu": 0.01, "ram": 1 << 20, "disk": 0},
                     "processes": [{"name": "p", "cmdline": "true #" + "x" * 60000}]}}


def post(url, body, headers, context=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_disk_full_stops_the_scheduler_and_loses_no_acknowledged_job(cluster):
    c = cluster
    data = os.path.join(c.root, "scheduler")
    os.makedirs(data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", data], check=True)
    try:
        c.scheduler_args += ["--sync", "full"]
        c.start_scheduler()
        acked, refused = [], None
        for n in range(200):
            status = post(c.url + "/api/v1/jobs", job(n), c.auth_headers(), c.tls())
            if status == 201:
                acked.append(f"local/fill/test/j{n}")
                continue
            refused = status
            break
        print(f"acknowledged {len(acked)} jobs, then status {refused}")
        assert acked, "not even one job fit in the store"
        assert refused == 500 or refused is None, refused
        # Fail-stop: the scheduler exits instead of serving a state its
        # store does not hold.
        rc = c.sched.wait(timeout=30)
        assert rc != 0
        assert "store failure" in c.log("scheduler.log")

        subprocess.run(["mount", "-o", "remount,size=64m", data], check=True)
        c.start_scheduler()
        jobs = {j["key"] for j in c.api("/api/v1/jobs")["jobs"]}
        assert set(acked) <= jobs, set(acked) - jobs
    finally:
        c.stop(c.sched)
        subprocess.run(["umount", data], check=False)
