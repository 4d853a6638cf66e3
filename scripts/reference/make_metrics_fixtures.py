"""Writes metrics/testdata/fid.npz: two fixed feature sets and their Fréchet
distance (scipy.linalg.sqrtm, as pytorch-fid computes it) and unbiased
polynomial-kernel MMD² (the KID estimator), computed independently of the Go
code.

    /usr/bin/python3 scripts/reference/make_metrics_fixtures.py
"""

import os

import numpy as np
from scipy import linalg


def fid(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mmd_poly(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())


def main():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((16, 16))
    x = (rng.standard_normal((300, 16)) @ a * 0.3).astype(np.float32)
    y = (rng.standard_normal((400, 16)) @ (a + 0.2 * rng.standard_normal((16, 16))) * 0.3 + 0.1).astype(np.float32)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    out = dict(x=x, y=y, fid=np.array([fid(xd, yd)]), mmd=np.array([mmd_poly(xd, yd)]),
               fid_self=np.array([fid(xd, xd)]))
    path = os.path.join(os.path.dirname(__file__), "..", "..", "metrics", "testdata", "fid.npz")
    np.savez(path, **out)
    print({k: float(v[0]) for k, v in out.items() if v.size == 1})


if __name__ == "__main__":
    main()
