#!/usr/bin/env bash
# Times a training step of the segmentation U-Net (segment -bench) and of
# its PyTorch peer (torch_segment.py, the same network, loss and optimiser)
# side by side, alternating, and prints each round's per-step medians and
# the speed ratio (PyTorch time / Go time: above 1 means Go is faster), then
# the median ratio. PyTorch runs on 1 and on 2 threads every round and the
# faster counts, with tcmalloc when Debian's libtcmalloc-minimal4 is there.
#
#   scripts/bench/segment_compare.sh [VARIANT] [ROUNDS] [STEPS] [BATCH] [PADDING]
#   scripts/bench/segment_compare.sh unet 5 20 8 valid
#
# The network is the segment command's default configuration (depth 3,
# width 16, batch norm) with the given variant and padding (valid, the
# default, or same). The Go step also draws its scenes and computes their
# weight maps inside the timed step; PyTorch's trains on fixed tensors.
set -euo pipefail
cd "$(dirname "$0")/../.."
variant=${1:-unet}
rounds=${2:-5}
steps=${3:-20}
batch=${4:-8}
padding=${5:-valid}

bin=${BENCH:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/segment
	go build -o "$bin" ./experiments/segment
fi
py=/usr/bin/python3
. scripts/bench/openblas_core.sh
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
preload=""
[ -f "$tcmalloc" ] && preload=$tcmalloc

result() { awk '/^RESULT/ {print $3}' | tail -1; }
go_out=$("$bin" -bench "$steps" -variant "$variant" -batch "$batch" -padding "$padding")
echo "$go_out" | head -1
input=$(echo "$go_out" | sed -n 's/.* of \([0-9]*\)-pixel inputs.*/\1/p')
# The same network on both sides: the parameter counts must agree.
go_params=$(echo "$go_out" | sed -n 's/.*, \([0-9]*\) parameters:.*/\1/p')
torch_params=$("$py" scripts/bench/torch_segment.py --variant "$variant" --padding "$padding" --input "$input" --batch "$batch" --steps 1 --warmup 0 --threads 1 |
	sed -n 's/.*, \([0-9]*\) parameters:.*/\1/p')
if [ "$go_params" != "$torch_params" ]; then
	echo "the networks differ: $go_params parameters in Go, $torch_params in PyTorch" >&2
	exit 1
fi
echo "both networks: $go_params parameters${peer_note:+ (peer$peer_note)}"
go_run() { "$bin" -bench "$steps" -variant "$variant" -batch "$batch" -padding "$padding" | result; }
torch_run() {
	LD_PRELOAD=$preload "$py" scripts/bench/torch_segment.py --variant "$variant" --padding "$padding" --input "$input" \
		--batch "$batch" --steps "$steps" --threads "$1" | result
}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; allocator: ${preload:-default}"
ratios=()
for r in $(seq "$rounds"); do
	g=$(go_run)
	t1=$(torch_run 1)
	t2=$(torch_run 2)
	t=$(awk -v a="$t1" -v b="$t2" 'BEGIN {print (a < b) ? a : b}')
	ratio=$(awk -v t="$t" -v g="$g" 'BEGIN {printf "%.3f", t / g}')
	ratios+=("$ratio")
	echo "round $r: go ${g}s/step  pytorch ${t1}s (1 thread) ${t2}s (2 threads)  speedup ${ratio}x"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}')
echo "RESULT segment_train_speedup_median ${median}"
