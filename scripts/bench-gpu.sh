#!/usr/bin/env bash
# The gpu benchmark (issue 14) on a machine with a GPU: our webgpu engine against PyTorch CUDA on the
# same GPU, same model and batch, plus our CPU backend and the one-click fine-tune on webgpu.
#
# (A machine with nothing of ours installed, such as the device tool's: scripts/gpu-kit.mjs here, then
# scripts/gpu-kit-run.sh there; bench/README.md, "On a GPU machine".)
#
# Needs: Node 20+ and this checkout with node_modules (npm ci); on Linux the Vulkan loader
# (libvulkan1) and the GPU's Vulkan driver (NVIDIA's driver ships its ICD); a python with a CUDA
# build of torch (ALEXNET_BENCH_PYTHON, else ../.venv-bench/bin/python or python3). The BVLC fixture
# the fine-tune row starts from is written by our own TypeScript (test/helpers/bvlc-fixture.ts).
#
#   scripts/bench-gpu.sh [more npm run bench arguments, e.g. --reps 9 --gpu-batch 128]
#
# Prints the table on stderr and writes the rows (JSON lines) to $ALEXNET_BENCH_OUT (default .) as
# gpu-<host>-<UTC time>.jsonl. Refuses to run on a software adapter: its figures would mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci
info=$(ALEXNET_BACKEND=webgpu ./bin/alexnet info --json) || { echo "bench-gpu: the webgpu backend does not load here (see above)" >&2; exit 1; }
node -e '
  const i = JSON.parse(process.argv[1]);
  if (!i.adapter || i.adapter.software) { console.error(`bench-gpu: no hardware WebGPU adapter (${i.adapter ? i.adapter.description : "none"}): install the GPU driver and the Vulkan loader`); process.exit(1); }
  console.error(`bench-gpu: webgpu on ${i.adapter.vendor} ${i.adapter.architecture} (${i.adapter.description})`);
' "$info"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
out="${ALEXNET_BENCH_OUT:-.}/gpu-$(hostname)-$(date -u +%Y%m%dT%H%MZ).jsonl"
npm run --silent bench -- --only gpu --json "$@" > "$out"
echo "bench-gpu: rows in $out" >&2
