#!/usr/bin/env python3
"""Before/after (not a test): the same benchmarks on two built trees, in one run, interleaved, as ratios.

  /usr/bin/python3 bench/before_after.py --baseline /path/to/older/tree [--rounds 2]

Each tree is measured with its own bench/ scripts and bin/ (build both first: mvn -B -q package -DskipTests).
Rounds alternate the order (A B, B A, ...) so drift of the machine falls on both. Figures: the whole
`circusctl status` process, the in-process `status` round trip (pyzmq, 500 processes), circusd's CPU with the
stats stream at 500 processes, respawn latency after kill -9 and the time to spawn 500 processes. The medians of
the rounds are printed, this tree's beside the baseline's, with this/baseline.
"""
import argparse, os, re, statistics, subprocess, sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (label, script and arguments, regex whose first group is the figure, unit)
MEASURES = [
    ("circusctl status, whole process", ["control.py", "--children", "500", "--calls", "500"],
     r"circusctl status \(whole process\) median\s+([\d.]+) ms", "ms"),
    ("status round trip, 500 processes", ["control.py", "--children", "500", "--calls", "500"],
     r"^status\s+median\s+([\d.]+) ms", "ms"),
    ("stats stream CPU, 500 processes", ["live.py", "--only", "stats", "--children", "500", "--seconds", "15"],
     r"stats cost ([\d.]+)% of a core", "% core"),
    ("respawn after kill -9, median", ["core.py", "--children", "500", "--idle", "5", "--mbytes", "20"],
     r"respawn after kill -9, median of 20\s+([\d.]+)ms", "ms"),
    ("spawn 500 until all exec'd", ["core.py", "--children", "500", "--idle", "5", "--mbytes", "20"],
     r"spawn 500 sleeps until all exec'd\s+([\d.]+)s", "s"),
]


def run(tree, args):
    out = subprocess.run(["/usr/bin/python3", os.path.join(tree, "bench", args[0])] + args[1:],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit("%s in %s failed:\n%s%s" % (args[0], tree, out.stdout, out.stderr))
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="an older built tree")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    trees = {"this": HERE, "baseline": os.path.abspath(a.baseline)}
    figures = {(t, m[0]): [] for t in trees for m in MEASURES}
    for r in range(a.rounds):
        order = ["baseline", "this"] if r % 2 == 0 else ["this", "baseline"]
        for t in order:
            outputs = {}
            for label, args, rx, unit in MEASURES:
                key = tuple(args)
                if key not in outputs:
                    outputs[key] = run(trees[t], args)
                m = re.search(rx, outputs[key], re.M)
                if not m:
                    sys.exit("no %r in the output of %s in %s:\n%s" % (label, args[0], trees[t], outputs[key]))
                figures[(t, label)].append(float(m.group(1)))
            print("round %d, %s done" % (r + 1, t), file=sys.stderr, flush=True)
    print("before/after, %d rounds, medians (%d cores)" % (a.rounds, os.cpu_count()))
    print("%-36s %12s %12s %8s" % ("metric", "this", "baseline", "ratio"))
    for label, args, rx, unit in MEASURES:
        ours = statistics.median(figures[("this", label)])
        base = statistics.median(figures[("baseline", label)])
        print("%-36s %9.2f %-3s %9.2f %-3s %7.2fx   (rounds: this %s, baseline %s)" % (
            label, ours, unit[:3], base, unit[:3], ours / base if base else float("nan"),
            " ".join("%.2f" % x for x in figures[("this", label)]),
            " ".join("%.2f" % x for x in figures[("baseline", label)])))


if __name__ == "__main__":
    main()
