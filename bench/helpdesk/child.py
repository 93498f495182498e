"""One push to completion in this process: `python -m bench.helpdesk.child URL API KEY` prints JSON with
the contacts pushed, the seconds the push took (app start-up excluded) and this process's peak RSS."""
import json
import resource
import sys
import time

from bench.helpdesk.data import config
from plugin import create_app
from plugin.extensions import db
from plugin.helpdesk import push


def peak_rss_mb():
    """VmHWM of this process in MB."""
    with open("/proc/self/status") as status:
        return int(next(line.split()[1] for line in status if line.startswith("VmHWM:"))) / 1024


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(url, api_base, key):
    """Push every pending contact (passes of up to a minute, no rate limit) and print the figures."""
    app = create_app(config(url, api_base, key, 0))
    with app.app_context():
        started, cpu = time.perf_counter(), _cpu()
        totals = {"created": 0, "updated": 0, "unchanged": 0, "refused": 0, "requests": 0, "passes": 0}
        while True:
            report = push.run_pass(budget=60.0, max_wait=0)
            for name in ("created", "updated", "unchanged", "requests"):
                totals[name] += getattr(report, name)
            totals["refused"] += len(report.refused)
            totals["passes"] += 1
            if not report.more:
                break
        totals["seconds"] = time.perf_counter() - started
        totals["cpu_seconds"] = _cpu() - cpu
        totals["status"] = report.status
        db.session.remove()
    totals["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(totals))


if __name__ == "__main__":
    main(*sys.argv[1:4])
