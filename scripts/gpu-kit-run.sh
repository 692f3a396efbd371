#!/usr/bin/env bash
# The GPU machine's one command (issue 14): unpacks the kit that scripts/gpu-kit.mjs made (.gpu-kit/,
# carried beside this checkout: Node, the bench bundles and their node_modules, the Vulkan loader, the
# re-encoded hymenoptera) and runs `--only gpu` of the benchmark with the machine's python3 torch.
# Needs nothing of ours installed there: no Node, npm or network.
#
#   bash scripts/gpu-kit-run.sh [more bench/index.ts arguments, e.g. --reps 3]
#   bash scripts/gpu-kit-run.sh --cpu      (later calls on the same warm machine, one per part of
#                                           .gpu-kit-cpu carried: our CPU figures on tfjs-node)
#
# Writes into $OUT (default ./gpu-kit-out): rows.jsonl (bench/index.ts --json: one JSON object per
# row), log.txt (everything printed), nvidia-smi.txt, vulkan.txt; with --cpu, cpu.jsonl (bench/engine.ts
# on tfjs-node) and the ratios to the first call's webgpu rows. Every step that fails says so and the
# others still run; the benchmark is stopped after ALEXNET_KIT_TIMEOUT seconds (default 480; a per-layer run gets what is left) so that
# what it measured comes back inside a 600 s call. See bench/README.md ("On a GPU machine").
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KIT=$ROOT/.gpu-kit
RUN=$KIT/run
OUT=${OUT:-$ROOT/gpu-kit-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
say() { echo "== gpu-kit: $*"; }
warn() { echo "!! gpu-kit: $*"; }
t0=$(date +%s)
# xz -dc, or python3's lzma where the image has no xz
unxz() { if command -v xz > /dev/null; then xz -dc "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi; }

# --cpu: keep each carried part of .gpu-kit-cpu in /tmp (a later call carries the next one); once all
# are there, unpack tfjs-node beside the first call's kit and measure our CPU backend on it.
if [ "${1:-}" = --cpu ]; then
  STASH=${ALEXNET_KIT_STASH:-/tmp/gpu-kit-cpu}
  mkdir -p "$STASH"
  cp "$ROOT"/.gpu-kit-cpu/part*/* "$STASH"/ 2> /dev/null || warn "no .gpu-kit-cpu/part* carried in this call"
  read -r parts sha < "$STASH/whole" 2> /dev/null || { warn "no part of .gpu-kit-cpu here yet"; exit 1; }
  have=$(ls "$STASH"/tfjs-node.tar.xz.* 2> /dev/null | wc -l)
  if [ "$have" -lt "$parts" ]; then say "have $have of $parts parts of tfjs-node: carry the next (.gpu-kit-cpu/part$((have + 1))) in the next call, at once"; exit 0; fi
  [ -x "$RUN/bin/node" ] && [ -f "$RUN/js/bench/engine.mjs" ] || { warn "the first call's kit is gone from $RUN (the machine was given back?): run the main call again"; exit 1; }
  for i in $(seq 1 "$parts"); do cat "$STASH/tfjs-node.tar.xz.$i"; done > "$STASH/tfjs-node.tar.xz"
  echo "$sha  $STASH/tfjs-node.tar.xz" | sha256sum -c --quiet || { warn "tfjs-node.tar.xz: sha256 differs (a part from another kit?)"; exit 1; }
  unxz "$STASH/tfjs-node.tar.xz" | tar -x -C "$RUN" || { warn "could not unpack tfjs-node"; exit 1; }
  say "tfjs-node unpacked ($parts parts) in $(( $(date +%s) - t0 )) s; our CPU backend on tfjs-node, batch 32"
  PATH="$RUN/bin:$PATH" NODE_PATH="$RUN/node_modules" ALEXNET_BACKEND=tensorflow timeout -k 10 "${ALEXNET_KIT_TIMEOUT:-540}" \
    node --expose-gc "$RUN/js/bench/engine.mjs" --groups infer,train,transfer --reps "${ALEXNET_KIT_CPU_REPS:-5}" > "$OUT/cpu.jsonl" || warn "bench/engine.ts on tfjs-node failed"
  "$RUN/bin/node" -e '
    const read = (f) => { try { return require("fs").readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; } };
    const cpu = read(process.argv[1]), gpu = read(process.argv[2]);
    const c = (n, b) => cpu.find((f) => f.name === n && f.batch === b)?.value;
    console.log(`tfjs-node: ${JSON.stringify(cpu.find((f) => f.name === "backend") ?? "not loaded")}`);
    for (const r of gpu.filter((r) => r.name?.startsWith("gpu ") && r.unit === "images/s")) {
      // (the gpu group compares with these: bench/index.ts, gpuGroup)
      const one = / batch 1$/.test(r.name);
      const [n, b] = r.name.includes("inference") ? ["ours_infer", one ? 1 : 32] : r.name.includes("training") ? ["ours_train_step", 32] : ["ours_transfer_cached", 32];
      const v = c(n, b);
      const sw = r.notes?.includes("SOFTWARE") ? " (a SOFTWARE adapter: no speed)" : "";
      console.log(`${r.name}: webgpu ${r.ours} images/s vs our CPU backend (tfjs-node) ${v ?? "n/a"} at batch ${b}${v && r.ours ? ` = ${(r.ours / v).toFixed(1)}x` : ""}${sw}`);
    }' "$OUT/cpu.jsonl" "$RUN/rows-gpu.jsonl"
  say "done in $(( $(date +%s) - t0 )) s"
  exit 0
fi

[ -f "$KIT/node.xz" ] && [ -f "$KIT/app.tar.xz" ] || { warn "no kit at $KIT (node scripts/gpu-kit.mjs makes it; name .gpu-kit in carry)"; exit 1; }
rm -rf "$RUN" && mkdir -p "$RUN/bin"
unxz "$KIT/node.xz" > "$RUN/bin/node" && chmod +x "$RUN/bin/node" || { warn "could not unpack node.xz"; exit 1; }
unxz "$KIT/app.tar.xz" | tar -x -C "$RUN" || { warn "could not unpack app.tar.xz"; exit 1; }
say "node $("$RUN/bin/node" --version) on $(uname -m); $(nproc) cores; kit unpacked in $(( $(date +%s) - t0 )) s"

# Our CPU backend in this call: wasm (tfjs-node does not fit beside the rest: the --cpu calls).
say "our CPU backend in this call is wasm; tfjs-node comes with the --cpu calls"

# The fine-tune row's photos (../shared does not travel).
if tar -xf "$KIT/hymenoptera.tar" -C "$RUN"; then export ALEXNET_BENCH_HYMENOPTERA="$RUN/hymenoptera"; else warn "no hymenoptera: the fine-tune row will fail"; fi

# The Vulkan loader (the image has none) and NVIDIA's ICD (the device README's procedure). A driver
# chosen by the caller (VK_ICD_FILENAMES, e.g. SwiftShader with its loader in LD_LIBRARY_PATH) is kept.
if [ -n "${VK_ICD_FILENAMES:-}" ]; then
  say "VK_ICD_FILENAMES set by the caller: the system's Vulkan is left alone"
elif ldconfig -p | grep -q 'libvulkan.so.1 '; then
  say "libvulkan.so.1 present"
elif ls "$KIT"/gl/*.deb > /dev/null 2>&1 && [ -w / ]; then
  for f in "$KIT"/gl/*.deb; do dpkg -x "$f" / || warn "dpkg -x $f failed"; done
  ldconfig || warn "ldconfig failed"
  ldconfig -p | grep -q 'libvulkan.so.1 ' && say "Vulkan loader unpacked from $(cd "$KIT/gl" && echo *.deb)" || warn "no libvulkan.so.1 after unpacking the debs"
else
  warn "no libvulkan.so.1 and no debs to unpack (or / is not writable): webgpu will find no adapter"
fi
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && ! ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json > /dev/null 2>&1; then
  nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$nv" ]; then export VK_DRIVER_FILES=$nv; say "VK_DRIVER_FILES=$nv"; else warn "no Vulkan ICD manifest found"; fi
fi
say "Vulkan: VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
{ ldconfig -p | grep -i vulkan; ls /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1; } > "$OUT/vulkan.txt" 2>&1

# The GPU, and torch.
if command -v nvidia-smi > /dev/null; then
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || warn "nvidia-smi failed"
  say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
else
  warn "no nvidia-smi: no NVIDIA GPU here (the PyTorch CUDA rows will be n/a)"
fi
if [ -z "${ALEXNET_BENCH_PYTHON:-}" ]; then
  if [ -x /opt/torch/.venv/bin/python3 ]; then export ALEXNET_BENCH_PYTHON=/opt/torch/.venv/bin/python3; else export ALEXNET_BENCH_PYTHON=python3; fi
fi
say "torch: $("$ALEXNET_BENCH_PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 | tail -1) ($ALEXNET_BENCH_PYTHON)"

# The benchmark: bundles instead of tsx (bench/child.ts), node_modules for ml/backend.ts's lookups.
export PATH="$RUN/bin:$PATH" NODE_PATH="$RUN/node_modules" ALEXNET_BENCH_BUNDLES="$RUN/js"
# (wasm, our CPU backend in this call: its threaded build where there are >= 4 cores, ml/backend.ts)
export PYTHONUNBUFFERED=1 ALEXNET_WASM_THREADS="${ALEXNET_WASM_THREADS:-1}"
say "bench: --only gpu --json $* (stopped after ${ALEXNET_KIT_TIMEOUT:-480} s)"
timeout -k 10 "${ALEXNET_KIT_TIMEOUT:-480}" node "$RUN/js/bench/index.mjs" --only gpu --json "$@" > "$OUT/rows.jsonl"
rc=$?
cp "$OUT/rows.jsonl" "$RUN/rows-gpu.jsonl" 2> /dev/null # (for a later --cpu call's ratios)
[ $rc -eq 0 ] || warn "bench exited with $rc$([ $rc -eq 124 ] && echo ' (timed out: the rows so far are kept)')"
node -e '
  for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(l);
    if (r.type === "header") console.log(`${r.backend ? `backend ${r.backend}; ` : ""}torch ${r.torch}; ${r.cores} cores`);
    else if (r.type === "footer") console.log(`backends: ${(r.backends ?? []).join("; ") || "none loaded"}`);
    else console.log(`${r.name}: ours ${r.ours} vs ${r.baseline} ${r.unit} (ratio ${r.ratio}) | ${r.notes}`);
  }' "$OUT/rows.jsonl" || warn "no rows"
# Per layer, with the time left (the call ends at 600 s): each conv layer alone at batch 128, forward
# and forward + gradients, under TF.js's programs and our naive and tiled ones (which layers should use
# which: ml/kernels/webgpu/names.ts).
left=$(( 585 - ($(date +%s) - t0) ))
if [ "$left" -gt 30 ]; then
  layers="${ALEXNET_KIT_LAYERS:---layers conv1,conv2,conv3,conv4,conv5 --kernels tfjs,naive,tiled-all --batch 128 --reps 5}"
  say "layers: bench/gpu.ts $layers (stopped after $left s)"
  # shellcheck disable=SC2086 # the options are words
  timeout -k 5 "$left" node --expose-gc "$RUN/js/bench/gpu.mjs" $layers > "$OUT/layers.jsonl" || warn "the per-layer run stopped early (rows so far in layers.jsonl)"
  node -e '
    for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
      const r = JSON.parse(l);
      if (r.layer) console.log(`${r.layer} ${r.name === "ours_gpu_conv" ? "forward" : `forward + grads of ${r.grads}`}, ${r.kernels}: ${r.value} ${r.unit} (batch ${r.batch})`);
    }' "$OUT/layers.jsonl" || warn "no per-layer figures"
else
  warn "no time left for the per-layer run"
fi
say "done in $(( $(date +%s) - t0 )) s; rows: $(grep -c . "$OUT/rows.jsonl" 2>/dev/null || echo 0) lines in $OUT/rows.jsonl"
exit $rc
