#!/usr/bin/env python3
"""The TLSRPT recording micro-benchmark of bench.py's section 7 alone
(issue 12: CPU per recorded session in one `exim -be`, recording on vs
tlsrpt_record=no; successful sessions, and failing ones that fill the
detail rows), without the section's deliveries:

    BENCH_BUILD=build/bench tests/world/run-in-world \\
        python3 tests/bench/tlsrpt-micro.py [VARIANT...]

VARIANT: 4.96, stock-split (default: both). Prints the figures as JSON.
BENCH_BUILD must hold what tests/bench/run.sh builds (mtasts,
mtasts_dlfunc.so, exim-4.96/mtasts_lookup.so)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    variants = sys.argv[1:] or bench.Bench.DELIVERY_VARIANTS
    b = bench.Bench(os.devnull)
    out = {}
    try:
        b.setup()
        b.spawn_err = os.path.join(b.work, "spawn.err")
        top = os.path.join(b.work, "delivery")
        os.mkdir(top)
        os.chmod(top, 0o755)
        env = dict(os.environ, E2E_BUILD=bench.BUILD)
        lines = bench.out_of(["bash", os.path.join(bench.HERE, "delivery-setup.sh"), top]
                             + variants, env=env)
        for line in lines.splitlines():
            v, a, ex, cf, d = line.split()
            if a == "snippets":
                arm = {"exim": ex, "conf": cf, "dir": d}
                out[v] = {"success": b.tlsrpt_micro(arm, v),
                          "failing": b.tlsrpt_micro(arm, v, failing=True)}
    finally:
        b.cleanup()
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
