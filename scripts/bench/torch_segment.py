"""PyTorch peer of `segment -bench`: the same segmentation U-Net
(Ronneberger et al. 2015 with the toolkit's attention and residual
variants, written here from segment/net.go's description: two 3x3
convolutions per level with optional batch norm and ReLU, 2x2 max pooling,
2x2 up-convolutions, centre-cropped skip features concatenated before the
decoder's convolutions, a 1x1 head), the same training step (pixel-wise
softmax cross-entropy weighted per pixel, backward, Adam), the same output
format (RESULT train_s_per_step, the median of --steps after --warmup).

    /usr/bin/python3 scripts/bench/torch_segment.py --depth 3 --width 16 --batch 8 --threads 2

The input, labels and weights are fixed random tensors (the Go step also
draws its scenes and computes their weight maps inside the timed step).
"""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def crop(x, like):
    h, w = like.shape[2], like.shape[3]
    top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    return x[:, :, top:top + h, left:left + w]


class Block(nn.Module):
    def __init__(self, cin, cout, pad, bn, residual):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=pad)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=pad)
        self.bn1 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.residual = residual
        self.shortcut = nn.Conv2d(cin, cout, 1) if residual and cin != cout else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if not self.residual:
            return F.relu(y)
        s = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(crop(s, y) + y)


class Gate(nn.Module):
    def __init__(self, ch):
        super().__init__()
        inter = max(ch // 2, 1)
        self.x = nn.Conv2d(ch, inter, 1)
        self.g = nn.Conv2d(ch, inter, 1)
        self.psi = nn.Conv2d(inter, 1, 1)

    def forward(self, skip, up):
        return skip * torch.sigmoid(self.psi(F.relu(self.x(skip) + self.g(up))))


class UNet(nn.Module):
    def __init__(self, depth, width, classes, valid, bn, variant):
        super().__init__()
        pad = 0 if valid else 1
        res = variant == "residual"
        chans = [width << l for l in range(depth + 1)]
        cin = 1
        self.enc = nn.ModuleList()
        for l in range(depth):
            self.enc.append(Block(cin, chans[l], pad, bn, res))
            cin = chans[l]
        self.mid = Block(cin, chans[depth], pad, bn, res)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        self.gates = nn.ModuleList()
        for l in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(2 * chans[l], chans[l], 2, stride=2))
            self.dec.append(Block(2 * chans[l], chans[l], pad, bn, res))
            self.gates.append(Gate(chans[l]) if variant == "attention" else nn.Identity())
        self.head = nn.Conv2d(chans[0], classes, 1)
        self.attention = variant == "attention"

    def forward(self, x):
        skips = []
        for b in self.enc:
            x = b(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for up, dec, gate, skip in zip(self.up, self.dec, self.gates, reversed(skips)):
            u = up(x)
            s = crop(skip, u)
            if self.attention:
                s = gate(s, u)
            x = dec(torch.cat([s, u], 1))
        return self.head(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--classes", type=int, default=11)
    ap.add_argument("--padding", choices=["valid", "same"], default="valid")
    ap.add_argument("--batch-norm", type=int, default=1)
    ap.add_argument("--variant", choices=["unet", "attention", "residual"], default="unet")
    ap.add_argument("--input", type=int, required=True, help="input side (segment -bench prints it)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet(a.depth, a.width, a.classes, a.padding == "valid", bool(a.batch_norm), a.variant)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(a.batch, 1, a.input, a.input) * 2 - 1
    with torch.no_grad():
        out = net(x).shape[-1]
    y = torch.randint(0, a.classes, (a.batch, out, out))
    w = torch.rand(a.batch, out, out) + 0.5
    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = (F.cross_entropy(net(x), y, reduction="none") * w).mean()
        loss.backward()
        opt.step()
        if s >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__}, {a.threads} threads, {a.variant}, {a.padding}, depth {a.depth}, width {a.width}, "
          f"{params} parameters: batch {a.batch} of {a.input}-pixel inputs ({out}-pixel outputs)")
    print(f"RESULT train_s_per_step {med:.5f}")


if __name__ == "__main__":
    main()
