#!/usr/bin/env bash
# Runs the Go benchmark and its PyTorch peer side by side, alternating, and
# prints each pair's per-step medians and the speed ratio (PyTorch time / Go
# time: above 1 means Go is faster), then the median ratio.
#
#   scripts/bench/compare.sh CONFIG MODE BATCH [ROUNDS] [STEPS]
#   scripts/bench/compare.sh configs/mnist.json train 16 5 20
#
# PyTorch runs on 1 and on 2 threads in every round and the faster counts,
# with tcmalloc when Debian's libtcmalloc-minimal4 is installed (and the
# peer's glibc tuning otherwise), and with OpenBLAS's kernels for the CPU
# where it misreads a virtual machine's (openblas_core.sh). BENCH names a
# prebuilt benchmark binary to time instead of building this checkout's (an
# older build, say, to compare versions against the same peer).
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${1:?config.json}
mode=${2:?train or sample}
batch=${3:?batch size}
rounds=${4:-5}
steps=${5:-20}

bin=${BENCH:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/benchmark
	go build -o "$bin" ./experiments/benchmark
fi
py=/usr/bin/python3
. scripts/bench/openblas_core.sh
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
preload=""
[ -f "$tcmalloc" ] && preload=$tcmalloc

result() { awk '/^RESULT/ {print $3}' | tail -1; }
go_run() { "$bin" -config "$config" -mode "$mode" -batch "$batch" -steps "$steps" | result; }
torch_run() {
	LD_PRELOAD=$preload "$py" scripts/bench/torch_peer.py --config "$config" --mode "$mode" \
		--batch "$batch" --steps "$steps" --threads "$1" | result
}

echo "config $config, mode $mode, batch $batch, steps $steps (allocator: ${preload:-default}$peer_note)"
ratios=()
for r in $(seq "$rounds"); do
	g=$(go_run)
	t1=$(torch_run 1)
	t2=$(torch_run 2)
	# PyTorch's best thread count, chosen again every round: how much the
	# second core helps varies on a shared machine.
	t=$(awk -v a="$t1" -v b="$t2" 'BEGIN {print (a < b) ? a : b}')
	ratio=$(awk -v t="$t" -v g="$g" 'BEGIN {printf "%.3f", t / g}')
	ratios+=("$ratio")
	echo "round $r: go ${g}s/step  pytorch ${t1}s (1 thread) ${t2}s (2 threads)  speedup ${ratio}x"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}')
echo "RESULT ${mode}_speedup_median ${median}"
