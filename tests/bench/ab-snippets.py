#!/usr/bin/python3
"""A/B of snippet variants: sender CPU and wall per delivered message, as
bench.py's section 7 measures them (same queue runs, same delivery check),
for Debian's default configuration and any number of snippet trees, on one
Exim, to one destination. A tool for changing the snippets, not part of
make bench.

    tests/world/run-in-world python3 tests/bench/ab-snippets.py \\
        [--variant 4.96|stock-split] [--dest enforce|nopolicy] [-n N] [-r ROUNDS] \\
        NAME=SNIPPETS_DIR...

SNIPPETS_DIR is a copy of exim-config-snippets (the checkout's is
"cur=exim-config-snippets"). Prints per arm the median CPU and wall per
message and the median per-round ratio to the default configuration.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="4.96")
    ap.add_argument("--dest", default="enforce")
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("-r", type=int, default=6)
    ap.add_argument("arms", nargs="+")
    a = ap.parse_args()
    b = bench.Bench(os.devnull)
    b.setup()
    try:
        b.spawn_err = os.path.join(b.work, "spawn.err")
        b.mail_seen, b.mail_got = set(), set()
        b.delivered_scan()
        import ctypes
        if ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) != 0:
            raise RuntimeError("prctl")
        env = dict(os.environ, E2E_BUILD=bench.BUILD)
        arms = []
        for i, spec in enumerate(a.arms):
            name, tree = spec.split("=", 1)
            top = os.path.join(b.work, "ab%d" % i)
            os.mkdir(top)
            os.chmod(top, 0o755)
            out = bench.out_of(["bash", os.path.join(bench.HERE, "delivery-setup.sh"), top,
                                a.variant], env=env)
            confs = {}
            for line in out.splitlines():
                v, arm, ex, cf, d = line.split()
                confs[arm] = {"exim": ex, "conf": cf, "dir": d}
            for arm in ("default", "snippets"):
                copy = os.path.join(top, arm, "snippets")
                shutil.rmtree(copy)
                shutil.copytree(os.path.abspath(tree), copy)
                os.system("chmod -R a+rX %s" % copy)
            if i == 0:
                arms.append(dict(confs["default"], name="default"))
            arms.append(dict(confs["snippets"], name=name))
        dom = bench.Bench.DELIVERY_DESTS[a.dest]
        seq = [0]

        def rcpts(k):
            seq[0] += 1
            return ["ab%d-%d@%s" % (seq[0], j, dom) for j in range(k)]
        for arm in arms:
            b.deliver(arm, rcpts(3))
        res = {arm["name"]: {"cpu": [], "wall": []} for arm in arms}
        for r in range(a.r):
            for arm in bench.rotate(arms, r):
                w, c = b.deliver(arm, rcpts(a.n))
                res[arm["name"]]["cpu"].append(c / a.n)
                res[arm["name"]]["wall"].append(w / a.n)
            print("round %d: %s" % (r + 1, " ".join(
                "%s=%.2fms" % (x, v["cpu"][-1] * 1e3) for x, v in res.items())), flush=True)
        base = res["default"]
        for x, v in res.items():
            rc = [p / q for p, q in zip(v["cpu"], base["cpu"])]
            rw = [p / q for p, q in zip(v["wall"], base["wall"])]
            print("%-12s CPU %.2f ms  wall %.2f ms  ratio CPU %.3f (%.3f-%.3f) wall %.3f" % (
                x, bench.median(v["cpu"]) * 1e3, bench.median(v["wall"]) * 1e3,
                bench.median(rc), min(rc), max(rc), bench.median(rw)))
        for arm in arms:
            with open(os.path.join(arm["dir"], "log", "mainlog"), errors="replace") as f:
                t = f.read()
            print("%s: %d deliveries, routes %s" % (arm["name"], t.count(" => "), sorted(set(
                x.split(" T=")[0].split(" R=")[-1] for x in t.splitlines() if " => " in x))))
    finally:
        b.cleanup()


main()
