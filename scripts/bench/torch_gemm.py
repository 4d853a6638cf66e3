"""PyTorch peer of the Go GEMM benchmark (scripts/bench/gogemm), with the
system BLAS behind torch.mm.

With sizes: the GFLOP/s of the median time of torch.mm on n×n float32
matrices (five warm-ups and at least 0.3 s of them, then --reps timed
multiplies):

    /usr/bin/python3 scripts/bench/torch_gemm.py --threads 1 256 512 1024

With --shapes FILE (lines "batch kind m n k count", as gogemm -record
writes them): per line, count products of (m×k)·(k×n), sharing A and B,
each into its own C: torch.bmm over expanded operands where the toolkit ran
them side by side (every kind but sgemm), count torch.mm calls otherwise; the
GFLOP/s of the median of --reps runs after three warm-ups (at least 0.3 s),
and each batch's
total time:

    /usr/bin/python3 scripts/bench/torch_gemm.py --threads 2 --reps 5 --shapes shapes.txt
"""

import argparse
import time

import torch


# The least time each size or shape line runs before it is timed, as the
# Go side (gogemm -warmup): a core that has idled runs slower until its
# clock has risen.
WARMUP = 0.3


def median_time(f, warm, reps):
    start, i = time.perf_counter(), 0
    while i < warm or time.perf_counter() - start < WARMUP:
        f()
        i += 1
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def shapes(path, threads, reps):
    totals = {}
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            f = line.split()
            kind = f[1]
            batch, m, n, k, count = (int(v) for v in f[:1] + f[2:])
            g = torch.Generator().manual_seed(m * 131 + n * 7 + k)
            a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
            c = torch.empty(count, m, n)
            if kind != "sgemm":
                ae, be = a.expand(count, m, k), b.expand(count, k, n)
                f = lambda: torch.bmm(ae, be, out=c)
            else:
                def f():
                    for i in range(count):
                        torch.mm(a, b, out=c[i])
            t = median_time(f, 3, reps)
            gf = 2 * m * n * k * count / t / 1e9
            totals[batch] = totals.get(batch, 0) + t * 1e3
            print(f"batch={batch} kind={kind} m={m} n={n} k={k} count={count} threads={threads} gflops={gf:.1f}")
    for batch in sorted(totals):
        print(f"batch={batch} total threads={threads} ms={totals[batch]:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--shapes")
    ap.add_argument("sizes", type=int, nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.shapes:
        shapes(a.shapes, a.threads, a.reps)
    for n in a.sizes:
        x, y = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        t = median_time(lambda: torch.mm(x, y, out=out), 5, a.reps)
        print(f"n={n} threads={a.threads} gflops={2 * n ** 3 / t / 1e9:.1f}")


if __name__ == "__main__":
    main()
