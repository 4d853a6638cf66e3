#!/usr/bin/env bash
# Scaling sweep: experiments/benchmark against the PyTorch peer
# (scripts/bench/torch_peer.py: scaled-dot-product attention on torch >= 2,
# glibc's thresholds tuned) over thread counts and batch sizes, alternating
# the two in every round, then a table and a speed-up-against-threads figure
# (scripts/bench/scaling):
#
#   scripts/bench/scaling.sh OUT_DIR [ROUNDS] [STEPS]
#   THREADS="1 2 4 8 16" BATCHES="16 128" CONFIGS="configs/mnist_attn3.json configs/unet4.json" scripts/bench/scaling.sh /tmp/scaling 3 6
#
# BENCH names a prebuilt benchmark binary (a static one cross-compiled for a
# machine without Go: CGO_ENABLED=0 go build -o bench ./experiments/benchmark);
# SUMMARY a prebuilt scripts/bench/scaling binary; PYTHON the interpreter of
# the PyTorch peer. Thread counts above the machine's cores are skipped.
set -euo pipefail
out=${1:?output directory}
rounds=${2:-3}
steps=${3:-6}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
threads=${THREADS:-"1 2 4 8 16"}
batches=${BATCHES:-"16 128"}
configs=${CONFIGS:-"$root/configs/mnist_attn3.json $root/configs/unet4.json"}
modes=${MODES:-"train sample"}
python=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
bench=${BENCH:-}
if [ -z "$bench" ]; then
	bench="$out/benchmark"
	(cd "$root" && go build -o "$bench" ./experiments/benchmark)
fi
cores=$(nproc)
csv="$out/scaling.csv"
echo "config,mode,batch,threads,go_s,torch_s,ratio,torch,attention,allocator,cpu" > "$csv"
cpu=$(awk -F: '/model name/ {gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo | tr ',' ' ')
result() { awk '/^RESULT/ {print $3}' | tail -1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'; }
for config in $configs; do
	for mode in $modes; do
		for batch in $batches; do
			for t in $threads; do
				[ "$t" -le "$cores" ] || continue
				gs=(); ts=(); info=""
				for r in $(seq "$rounds"); do
					gs+=("$(GOMAXPROCS=$t "$bench" -config "$config" -mode "$mode" -batch "$batch" -steps "$steps" | result)")
					log=$("$python" "$here/torch_peer.py" --config "$config" --mode "$mode" --batch "$batch" --steps "$steps" --threads "$t")
					ts+=("$(echo "$log" | result)")
					info=$(echo "$log" | head -1)
				done
				g=$(printf '%s\n' "${gs[@]}" | median)
				p=$(printf '%s\n' "${ts[@]}" | median)
				torch=$(echo "$info" | sed -n 's/.*torch \([^,]*\),.*/\1/p')
				attn=$(echo "$info" | sed -n 's/.*attention \([^,]*\),.*/\1/p')
				alloc=$(echo "$info" | sed -n 's/.*allocator \(.*\)$/\1/p' | tr ',' ' ')
				ratio=$(awk -v p="$p" -v g="$g" 'BEGIN {printf "%.3f", p / g}')
				echo "$(basename "$config" .json),$mode,$batch,$t,$g,$p,$ratio,$torch,$attn,$alloc,$cpu" >> "$csv"
				echo "$(basename "$config" .json) $mode batch $batch threads $t: go ${g}s pytorch ${p}s ratio ${ratio}x"
			done
		done
	done
done
summary=${SUMMARY:-}
if [ -z "$summary" ]; then
	summary="$out/scaling-summary"
	(cd "$root" && go build -o "$summary" ./scripts/bench/scaling)
fi
"$summary" -csv "$csv" -out "$out"
