#!/usr/bin/env python3
"""Fit and check the verdict confidence (docs/VERDICTS.md).

    build/bench/judge_sets LIB.h5 MB_IN.msp MB_OUT.msp > sets.tsv
    python3 bench/calibrate.py sets.tsv

Reads the per-query lines judge_sets writes (the six features sm_judge computes and
whether the best hit, or its isomer group, is right), fits the logistic model that
lib/src/verdict.c evaluates, and prints:

* the coefficients, as the C array to paste into verdict.c;
* the verdict counts per set and the rates the issue asks for;
* the calibration of the confidence on data it was not fitted on: 5-fold
  cross-validation with folds by compound (all queries of a compound in one fold),
  predicted against observed by bins of 0.1, and the expected calibration error (ECE);
* the same for the coefficients compiled into verdict.c (the last column of the
  input), which is what users get.

Each of the four sets gets the same total weight in the fit and in the weighted
ECE, i.e. the confidence assumes even odds that a query's compound is in the
library. Pure Python 3, no third-party modules.
"""
import collections
import math
import sys
import zlib

SETS = ("swg-rep", "swg-lco", "mb-in", "mb-out")
FOLDS = 5
L2 = 1e-4


def expand(f):
    """The 13 model inputs from the six raw features (same as verdict.c)."""
    mf, rmf, gap, above, iso, same = f
    m, r, g = mf / 1000, rmf / 1000, min(gap, 300) / 100
    return [1.0, m, max(0, m - 0.7), max(0, m - 0.8), max(0, m - 0.9), r,
            max(0, r - 0.8), g, max(0, g - 0.5), max(0, g - 1.0), above, iso, same / 3]


def sigmoid(z):
    z = max(-30.0, min(30.0, z))
    return 1 / (1 + math.exp(-z))


def solve(a, b):
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for i in range(n):
        piv = max(range(i, n), key=lambda r: abs(m[r][i]))
        m[i], m[piv] = m[piv], m[i]
        for r in range(n):
            if r != i and m[r][i] != 0:
                f = m[r][i] / m[i][i]
                for c in range(i, n + 1):
                    m[r][c] -= f * m[i][c]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(xs, ys, ws, iters=40):
    """Weighted L2-regularized logistic regression by Newton's method."""
    d = len(xs[0])
    w = [0.0] * d
    for _ in range(iters):
        g = [L2 * w[i] for i in range(d)]
        h = [[L2 if i == j else 0.0 for j in range(d)] for i in range(d)]
        for x, y, wt in zip(xs, ys, ws):
            p = sigmoid(sum(a * b for a, b in zip(w, x)))
            for i in range(d):
                g[i] += wt * (p - y) * x[i]
                hi = h[i]
                c = wt * p * (1 - p) * x[i]
                for j in range(d):
                    hi[j] += c * x[j]
        step = solve(h, g)
        w = [a - b for a, b in zip(w, step)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return w


def predict(w, x):
    return sigmoid(sum(a * b for a, b in zip(w, x)))


def calibration(ps, ys, ws, bins=10):
    rows = [[0.0, 0.0, 0.0, 0] for _ in range(bins)]
    for p, y, w in zip(ps, ys, ws):
        r = rows[min(int(p * bins), bins - 1)]
        r[0] += w
        r[1] += w * p
        r[2] += w * y
        r[3] += 1
    total = sum(r[0] for r in rows) or 1
    ece = sum(abs(r[1] - r[2]) for r in rows if r[0]) / total
    return rows, ece


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    src = sys.stdin if path == "-" else open(path, encoding="utf-8")
    qs = []
    for line in src:
        f = line.rstrip("\n").split("\t")
        if len(f) < 16 or f[0] not in SETS:
            continue
        qs.append({"set": f[0], "truth": f[2], "verdict": f[4], "best_right": int(f[6]),
                   "right": int(f[7]), "raw": [float(v) for v in f[9:15]],
                   "shipped": float(f[15])})
    count = collections.Counter(q["set"] for q in qs)
    for q in qs:
        q["w"] = 0.25 / count[q["set"]]
        q["x"] = expand(q["raw"])

    print("## Verdicts per set\n")
    print("| set | queries | top-1 right | identified (right/wrong) | isomers (holds truth/not) | no_match |")
    print("|---|---|---|---|---|---|")
    for s in SETS:
        sub = [q for q in qs if q["set"] == s]
        c = collections.Counter((q["verdict"], q["right"]) for q in sub)
        top1 = sum(q["best_right"] for q in sub)
        print(f"| {s} | {len(sub)} | {top1} | {c[('identified', 1)]}/{c[('identified', 0)]} | "
              f"{c[('isomers', 1)]}/{c[('isomers', 0)]} | "
              f"{c[('no_match', 0)] + c[('no_match', 1)]} |")

    w = fit([q["x"] for q in qs], [q["right"] for q in qs], [q["w"] for q in qs])
    print("\n## Coefficients (all data; paste into lib/src/verdict.c)\n")
    print("    " + ", ".join(f"{v:.4f}" for v in w))

    for q in qs:
        q["fold"] = zlib.crc32(q["truth"].encode()) % FOLDS
    for k in range(FOLDS):
        train = [q for q in qs if q["fold"] != k]
        wk = fit([q["x"] for q in train], [q["right"] for q in train],
                 [q["w"] for q in train])
        for q in qs:
            if q["fold"] == k:
                q["cv"] = predict(wk, q["x"])

    for label, key in (("held out (5-fold cross-validation by compound)", "cv"),
                       ("as shipped in verdict.c", "shipped")):
        print(f"\n## Calibration, {label}\n")
        print("| sets | queries | ECE (sets weighted equally) |")
        print("|---|---|---|")
        groups = [("mb-in", "mb-out"), ("swg-rep", "swg-lco"), SETS,
                  ("mb-in",), ("mb-out",), ("swg-rep",), ("swg-lco",)]
        for g in groups:
            sub = [q for q in qs if q["set"] in g]
            _, e = calibration([q[key] for q in sub], [q["right"] for q in sub],
                               [q["w"] for q in sub])
            print(f"| {' + '.join(g)} | {len(sub)} | {100 * e:.1f}% |")
        sub = [q for q in qs if q["set"] in ("mb-in", "mb-out")]
        rows, e = calibration([q[key] for q in sub], [q["right"] for q in sub],
                              [q["w"] for q in sub])
        print(f"\nMassBank in + not in library, by bin (weighted; ECE {100 * e:.1f}%):\n")
        print("| confidence | queries | mean predicted | observed right |")
        print("|---|---|---|---|")
        for i, r in enumerate(rows):
            if r[3]:
                print(f"| {i / 10:.1f}-{(i + 1) / 10:.1f} | {r[3]} | {r[1] / r[0]:.3f} | "
                      f"{r[2] / r[0]:.3f} |")


if __name__ == "__main__":
    main()
