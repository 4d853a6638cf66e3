#!/usr/bin/env bash
# Packs what the scaling sweep needs on a machine without Go into bundle/
# (ignored by git): static binaries of experiments/benchmark and of the
# summary, the PyTorch peer with its reference U-Net, and the configs, in the
# repository's layout. On that machine:
#
#   BENCH=bundle/bin/benchmark SUMMARY=bundle/bin/scaling-summary PYTHON=python3 \
#     bash bundle/scripts/bench/scaling.sh OUT_DIR 3 6
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf bundle
mkdir -p bundle/bin bundle/scripts/bench bundle/scripts/reference bundle/configs
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o bundle/bin/benchmark ./experiments/benchmark
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o bundle/bin/scaling-summary ./scripts/bench/scaling
cp scripts/bench/scaling.sh scripts/bench/torch_peer.py bundle/scripts/bench/
cp scripts/reference/unet2d.py bundle/scripts/reference/
cp configs/*.json bundle/configs/
du -sh bundle
