#!/usr/bin/env bash
# Packs what the scaling sweep and the GEMM comparison need on a machine
# without Go into bundle/ (ignored by git): static binaries of
# experiments/benchmark, of the summary and of gogemm, the mnist U-Net's
# products recorded at batch 1, 16, 64 and 100 (gogemm -record), the
# PyTorch peers with the reference U-Net, and the configs, in the
# repository's layout. On that machine:
#
#   BENCH=bundle/bin/benchmark SUMMARY=bundle/bin/scaling-summary PYTHON=python3 \
#     bash bundle/scripts/bench/scaling.sh OUT_DIR 3 6
#   GOGEMM=bundle/bin/gogemm SHAPES=bundle/shapes.txt PYTHON=python3 THREADS="1 16" \
#     bash bundle/scripts/bench/gemm_compare.sh 3
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf bundle
mkdir -p bundle/bin bundle/scripts/bench bundle/scripts/reference bundle/configs
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o bundle/bin/benchmark ./experiments/benchmark
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o bundle/bin/scaling-summary ./scripts/bench/scaling
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o bundle/bin/gogemm ./scripts/bench/gogemm
go run ./scripts/bench/gogemm -record bundle/shapes.txt -batch 1,16,64,100 >/dev/null
cp scripts/bench/scaling.sh scripts/bench/torch_peer.py scripts/bench/gemm_compare.sh scripts/bench/torch_gemm.py bundle/scripts/bench/
cp scripts/reference/unet2d.py bundle/scripts/reference/
cp configs/*.json bundle/configs/
du -sh bundle
