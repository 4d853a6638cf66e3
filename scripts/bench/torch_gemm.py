"""PyTorch peer of the Go GEMM benchmark: median GFLOP/s of torch.mm on n×n
float32 matrices.

    /usr/bin/python3 scripts/bench/torch_gemm.py --threads 1 256 512 1024
"""

import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("sizes", type=int, nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for n in a.sizes:
        x, y = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        for _ in range(5):
            torch.mm(x, y, out=out)
        ts = []
        for _ in range(a.reps):
            t = time.perf_counter()
            torch.mm(x, y, out=out)
            ts.append(time.perf_counter() - t)
        ts.sort()
        print(f"n={n} threads={a.threads} gflops={2 * n ** 3 / ts[len(ts) // 2] / 1e9:.1f}")


if __name__ == "__main__":
    main()
