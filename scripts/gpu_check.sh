#!/usr/bin/env bash
# The GPU proof (issue: reproduce the seed's perplexity): on a machine with a CUDA GPU,
#   1. benchmark every placement against a plain cuDNN nn.LSTM model,
#   2. train the `book` preset to the end (40 epochs) and report test perplexity,
#   3. train `variational-medium` if time remains,
# writing everything under RESULTS_DIR (JSON + PNG per run, bench JSON, logs).
#
#   scripts/gpu_check.sh RESULTS_DIR
#
# Needs only torch, numpy and pandas (matplotlib for the PNGs); PTB comes from
# $LMCORE_DATA_DIR. On a lent GPU machine, with PTB copied into the git-ignored .device-data/:
#   mkdir -p .device-data && cp -r ../shared/data/ptb .device-data/    (here, once)
#   LMCORE_DATA_DIR=.device-data scripts/gpu_check.sh $OUT             (there; carry .device-data)
# then commit $OUT's *.json and *.png as docs/results/. Knobs for a dry run on a CPU:
#   GPU_CHECK_DEVICE=cpu  GPU_CHECK_PRESETS="tiny"  GPU_CHECK_SET="max_steps=30 eval_every=10"
#   GPU_CHECK_SIZES=32 (bench sizes)
#   GPU_CHECK_SECONDS=570 (stop starting new work after this; a run cut short by it is
#   stopped with a checkpoint, marked `stopped`, and still reported)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh RESULTS_DIR}
mkdir -p "$out"
device=${GPU_CHECK_DEVICE:-cuda}
presets=${GPU_CHECK_PRESETS:-book variational-medium}
budget=${GPU_CHECK_SECONDS:-570}
python=${PYTHON:-python3}
sets=()
for kv in ${GPU_CHECK_SET:-}; do sets+=(--set "$kv"); done
start=$SECONDS
export PYTHONUNBUFFERED=1

log() { echo "[gpu_check $((SECONDS - start))s] $*" | tee -a "$out/gpu_check.log"; }

log "device=$device presets=$presets budget=${budget}s"
$python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee -a "$out/gpu_check.log"

bench_steps=${GPU_CHECK_BENCH_STEPS:-30}
[[ $device == cpu ]] && bench_steps=2
$python -m lmcore bench --device "$device" --sizes "${GPU_CHECK_SIZES:-200,650}" --steps "$bench_steps" --json >"$out/bench.json" 2>>"$out/gpu_check.log" \
  && log "bench done" || log "bench FAILED"

for preset in $presets; do
  left=$((budget - (SECONDS - start)))
  if (( left < 30 )); then log "no time left for $preset"; break; fi
  log "training $preset (at most ${left}s)"
  # SIGTERM at the deadline: the run checkpoints and stops instead of dying mid-write.
  timeout -s TERM --kill-after=30 "$left" $python -m lmcore train --preset "$preset" \
      --set device="$device" "${sets[@]}" --runs-dir "$out/runs" --name "$preset" --no-progress-bar \
      >"$out/$preset.summary.json" 2>"$out/$preset.log"
  log "$preset exited with $? : $(tail -c 400 "$out/$preset.summary.json")"
  run_dir=$(ls -dt "$out"/runs/*-"$preset"-* 2>/dev/null | head -n 1)
  if [[ -n "$run_dir" ]]; then
    $python -m lmcore report "$run_dir" --json "$out/$preset.json" --png "$out/$preset.png" | tee -a "$out/gpu_check.log"
  fi
done
log "done"
