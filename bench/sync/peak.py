"""Run `mallbridge ARGS` in this process and write its own peak RSS (VmHWM, kB) to $BENCH_PEAK_FILE.

wait4()'s ru_maxrss cannot be used for the children: Linux carries the parent's RSS across
fork+exec into the child's maxrss, so a child of the benchmark (whose fake mall holds every
inquiry) reported the benchmark's size. VmHWM belongs to the exec'd image alone."""
import atexit
import os
import sys


def _write_peak():
    path = os.environ.get("BENCH_PEAK_FILE")
    if not path:
        return
    with open("/proc/self/status") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(hwm)


if __name__ == "__main__":
    atexit.register(_write_peak)
    from plugin.cli import main

    sys.argv = ["mallbridge"] + sys.argv[1:]
    main()
