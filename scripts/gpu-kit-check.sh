#!/usr/bin/env bash
# Checks the GPU-machine kit here as the machine would see it (bench/README.md, "On a GPU machine"):
# `git archive HEAD` + .gpu-kit in a temp folder with no node_modules, a PATH without Node, SwiftShader
# as the Vulkan driver (test/helpers/vulkan.ts unpacks it into node_modules/.cache) and the CPU-only
# torch of ../.venv-bench (or ALEXNET_BENCH_PYTHON). Then the calls, in order: the main one
# (--gpu-software --quick --gpu-batch 8, cut at CHECK_TIMEOUT s, default 480: SwiftShader cannot finish
# the full fine-tune in time on 2 cores), one --cpu call per .gpu-kit-cpu part carried alone (the first
# call's .gpu-kit stays, as on the warm machine), and finetune.mjs from the kit on tfjs-node with the
# kit's photos. Figures from it are no speed. About 10 minutes on 2 cores.
#
#   node scripts/gpu-kit.mjs && bash scripts/gpu-kit-check.sh
set -u
W=$(cd "$(dirname "$0")/.." && pwd)
V=$(mktemp -d /tmp/gpu-kit-check.XXXXXX)
SW=$(ls -d "$W"/node_modules/.cache/alexnet-studio/swiftshader-* 2> /dev/null | tail -1)
PY=${ALEXNET_BENCH_PYTHON:-$W/../.venv-bench/bin/python}
[ -f "$W/.gpu-kit/node.xz" ] || { echo "gpu-kit-check: no .gpu-kit (node scripts/gpu-kit.mjs)"; exit 1; }
[ -n "$SW" ] || { echo "gpu-kit-check: no SwiftShader in node_modules/.cache (run the webgpu tests once)"; exit 1; }
mkdir -p "$V/repo" "$V/bin"
git -C "$W" archive HEAD | tar -x -C "$V/repo"
cp -r "$W/.gpu-kit" "$V/repo/"
for f in /usr/bin/*; do case "$(basename "$f")" in node | nodejs | npm | npx | corepack) ;; *) ln -s "$f" "$V/bin/" ;; esac; done
cd "$V/repo" || exit 1
call() {
  echo "######## call: $*"
  env -i HOME="$V" TMPDIR=/tmp PATH="$V/bin:/usr/sbin:/sbin" OUT="$V/out" ALEXNET_KIT_STASH="$V/stash" \
    LD_LIBRARY_PATH="$SW" VK_ICD_FILENAMES="$SW/vk_swiftshader_icd.json" ALEXNET_KIT_CPU_REPS=2 \
    ALEXNET_BENCH_PYTHON="$PY" ALEXNET_KIT_TIMEOUT="${CHECK_TIMEOUT:-480}" \
    ALEXNET_KIT_LAYERS="--layers conv5 --kernels naive,tiled-all --batch 1 --reps 1 --allow-software" bash scripts/gpu-kit-run.sh "$@"
  echo "######## exit $?"
}
call --gpu-software --quick --gpu-batch 8
for part in "$W"/.gpu-kit-cpu/part*; do
  rm -rf .gpu-kit-cpu && mkdir -p .gpu-kit-cpu && cp -r "$part" .gpu-kit-cpu/
  call --cpu
done
R=$V/repo/.gpu-kit/run
echo "######## finetune.mjs on tfjs-node, the kit's photos"
env -i HOME="$V" TMPDIR=/tmp PATH="$R/bin:$V/bin" NODE_PATH="$R/node_modules" ALEXNET_BACKEND=tensorflow ALEXNET_BENCH_HYMENOPTERA="$R/hymenoptera" \
  "$R/bin/node" --expose-gc "$R/js/bench/finetune.mjs" --head-epochs 1 --epochs 1
echo "######## exit $?"
rm -rf "$V"
