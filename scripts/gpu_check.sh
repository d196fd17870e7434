#!/usr/bin/env bash
# The GPU proof (issue 10: train at the speed of the hardware), on a machine with a CUDA GPU:
#   1. the GPU-only tests of tests/test_graphs.py (capture + replay equals eager, fresh masks
#      at every replay, a cuda_graphs=auto run captures) -> graph_tests.json (+ .xml, .log),
#   2. every placement with and without CUDA graphs against a plain cuDNN nn.LSTM model
#      (`lmcore bench --graphs`) -> bench.json; variational with its gate math compiled
#      (`--compiled-cell`, at most 180 s) -> bench_compiled_cell.json,
#   3. the trainings, started together on the one GPU with cuda_graphs=auto: `book`,
#      `variational-medium`, `zaremba-medium` and the book recipe with horizontal dropout ->
#      NAME.json + NAME.png (lmcore report), NAME.summary.json, NAME.log, runs/NAME/,
# all under RESULTS_DIR, within GPU_CHECK_SECONDS of wall clock.
#
#   scripts/gpu_check.sh RESULTS_DIR
#
# Needs torch, numpy and pandas (matplotlib for the PNGs; pytest for step 1, else it is
# skipped with a line in the log); PTB comes from $LMCORE_DATA_DIR. On a lent GPU machine:
#   mkdir -p .device-data && cp -r ../shared/data/ptb .device-data/                 (here, once)
#   .venv/bin/python -m pip install --target .device-data/pylib pytest              (here, once)
#   LMCORE_DATA_DIR=.device-data scripts/gpu_check.sh $OUT            (there; carry .device-data)
# then commit $OUT's *.json and *.png as docs/results/. Knobs (a dry run on a CPU uses them):
#   GPU_CHECK_DEVICE=cpu
#   GPU_CHECK_RUNS="tiny other:tiny:dropout_placement=horizontal"  (NAME[:PRESET[:KEY=VALUE,...]];
#     PRESET defaults to NAME; GPU_CHECK_PRESETS is an older name for the same list)
#   GPU_CHECK_SET="max_steps=30 eval_every=10" (for every run)   GPU_CHECK_SIZES=32 (bench sizes)
#   GPU_CHECK_SECONDS=570 (the trainings get what is left after steps 1-2; a run still going
#   then is stopped by SIGTERM with a checkpoint, marked `stopped`, and still reported)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh RESULTS_DIR}
mkdir -p "$out"
device=${GPU_CHECK_DEVICE:-cuda}
runs=${GPU_CHECK_RUNS:-${GPU_CHECK_PRESETS:-book variational-medium zaremba-medium book-horizontal:book:dropout_placement=horizontal}}
budget=${GPU_CHECK_SECONDS:-570}
python=${PYTHON:-python3}
sets=()
for kv in ${GPU_CHECK_SET:-}; do sets+=(--set "$kv"); done
pylib=${LMCORE_DATA_DIR:-.device-data}/pylib
[[ -d $pylib ]] && export PYTHONPATH="$pylib${PYTHONPATH:+:$PYTHONPATH}"
start=$SECONDS
export PYTHONUNBUFFERED=1

log() { echo "[gpu_check $((SECONDS - start))s] $*" | tee -a "$out/gpu_check.log"; }

log "device=$device runs=$runs budget=${budget}s"
$python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee -a "$out/gpu_check.log"

# 1. The graph step's GPU-only tests (they skip themselves without CUDA).
if $python -c "import pytest" 2>/dev/null; then
  timeout 300 $python -m pytest -q -p no:cacheprovider tests/test_graphs.py -k test_gpu_ \
      --junitxml="$out/graph_tests.xml" >"$out/graph_tests.log" 2>&1
  log "graph tests exited with $?: $(tail -n 1 "$out/graph_tests.log")"
  $python scripts/junit_json.py "$out/graph_tests.xml" >"$out/graph_tests.json" || log "graph_tests.json FAILED"
else
  log "pytest is not importable: the GPU tests of tests/test_graphs.py did not run"
fi

# 2. Speed: every placement, ordinary step and graph step, against the nn.LSTM reference.
bench_steps=${GPU_CHECK_BENCH_STEPS:-30}
[[ $device == cpu ]] && bench_steps=2
$python -m lmcore bench --device "$device" --sizes "${GPU_CHECK_SIZES:-200,650}" --steps "$bench_steps" --graphs \
    --json >"$out/bench.json" 2>>"$out/gpu_check.log" && log "bench done" || log "bench FAILED"
# The compiled gate math (lmcore/fused_cell.py) apart, so a compiler failure costs only this file.
if [[ $device == cpu ]]; then
  log "compiled-cell bench skipped on a CPU (tests/test_fused_cell.py checks the cell)"
else
  timeout 180 $python -m lmcore bench --device "$device" --sizes "${GPU_CHECK_CELL_SIZES:-650}" --steps "$bench_steps" \
      --placements variational --graphs --compiled-cell --json >"$out/bench_compiled_cell.json" 2>>"$out/gpu_check.log" \
    && log "compiled-cell bench done" || log "compiled-cell bench FAILED"
fi

# 3. The trainings, started together; each stops (with a checkpoint) at the deadline.
left=$((budget - (SECONDS - start)))
if (( left < 30 )); then log "no time left for the trainings"; log "done"; exit 0; fi
names=(); pids=()
for entry in $runs; do
  IFS=: read -r name preset changes <<<"$entry"
  preset=${preset:-$name}
  run_sets=()
  IFS=, read -ra pairs <<<"${changes:-}"
  for kv in "${pairs[@]}"; do run_sets+=(--set "$kv"); done
  log "training $name (preset $preset ${changes:-}, at most ${left}s)"
  # SIGTERM at the deadline: the run checkpoints and stops instead of dying mid-write.
  timeout -s TERM --kill-after=30 "$left" $python -m lmcore train --preset "$preset" \
      --set device="$device" --set cuda_graphs=auto "${run_sets[@]}" "${sets[@]}" --runs-dir "$out/runs/$name" \
      --name "$name" --no-progress-bar >"$out/$name.summary.json" 2>"$out/$name.log" &
  names+=("$name"); pids+=($!)
done
for index in "${!pids[@]}"; do
  name=${names[$index]}
  wait "${pids[$index]}"
  log "$name exited with $? : $(tail -c 400 "$out/$name.summary.json")"
  run_dir=$(ls -d "$out/runs/$name"/*/ 2>/dev/null | head -n 1)
  if [[ -n "$run_dir" ]]; then
    $python -m lmcore report "$run_dir" --json "$out/$name.json" --png "$out/$name.png" | tee -a "$out/gpu_check.log"
  fi
done
log "done"
