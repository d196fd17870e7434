#!/usr/bin/env bash
# The GPU proof (issue 10: train at the speed of the hardware), on a machine with a CUDA GPU:
#   1. the GPU-only tests of tests/test_graphs.py and tests/test_pipeline.py (capture + replay
#      equals eager, fresh masks at every replay, a cuda_graphs=auto run captures, pipelined
#      layers capture) -> graph_tests.json (+ .xml, .log),
#   2. every placement with and without CUDA graphs against a plain cuDNN nn.LSTM model
#      (`lmcore bench --graphs`) -> bench.json; none, vertical and variational graphed with their
#      layers pipelined over 2 and 5 chunks of the window (`--pipeline 2,5`, lmcore/pipeline.py,
#      at most 180 s) -> bench_pipeline.json; horizontal and variational with their gate math compiled
#      (`--compiled-cell`, at most 180 s) -> bench_compiled_cell.json; vertical and variational
#      under bf16 autocast -> bench_bf16.json; the kernels that take a step's device time
#      (scripts/profile_step.py) -> profile_step.json,
#   3. the trainings, one after another with cuda_graphs=auto, each given what is left of the
#      budget: `variational-medium`, `zaremba-medium`, the book recipe with horizontal dropout
#      and `book` -> NAME.json + NAME.png (lmcore report), NAME.summary.json, NAME.log, runs/NAME/,
# all under RESULTS_DIR, within GPU_CHECK_SECONDS of wall clock.
#
#   scripts/gpu_check.sh RESULTS_DIR
#
# One after another, not together: on an H200 four graphed runs sharing the GPU made 166k
# tokens/s between them, one book run alone 201k (docs/results/h200-graphs-2026-11-27/), so
# sharing only delays every run's end.
#
# Needs torch, numpy and pandas (matplotlib for the PNGs; pytest for step 1, else it is
# skipped with a line in the log); PTB comes from $LMCORE_DATA_DIR. On a lent GPU machine:
#   mkdir -p .device-data && cp -r ../shared/data/ptb .device-data/                 (here, once)
#   .venv/bin/python -m pip install --target .device-data/pylib pytest              (here, once)
#   LMCORE_DATA_DIR=.device-data GPU_CHECK_PACK=$OUT/gpu_check.tgz scripts/gpu_check.sh /tmp/gpu_check
#                                                                    (there; carry .device-data)
# The device tool brings back only a few files from $OUT and no deep folders, so the results
# are written outside it and packed (without checkpoints) into one file in it. Unpack it and
# commit the *.json and *.png as docs/results/. Knobs (a dry run on a CPU uses them):
#   GPU_CHECK_DEVICE=cpu
#   GPU_CHECK_RUNS="tiny other:tiny:dropout_placement=horizontal"  (NAME[:PRESET[:KEY=VALUE,...]];
#     PRESET defaults to NAME; GPU_CHECK_PRESETS is an older name for the same list)
#   GPU_CHECK_TOGETHER=1 (start the trainings together instead)
#   GPU_CHECK_SET="max_steps=30 eval_every=10" (for every run)   GPU_CHECK_SIZES=32 (bench sizes)
#   GPU_CHECK_BENCH_SECONDS=300 (the main bench's time limit), GPU_CHECK_CELL_SECONDS=180 (that of
#     each of the compiled-cell bench, the bf16 bench and the profile)
#   GPU_CHECK_PARTS="tests bench train" (which of steps 1-3 to run: on a lent machine a short first
#     call with "tests bench" shows whether capture works before the trainings spend the time)
#   GPU_CHECK_PACK=FILE.tgz (where to pack RESULTS_DIR at the end, checkpoints left out; by
#     default RESULTS_DIR/00-packed.tgz, a name that sorts before the loose files, so a bare
#     `scripts/gpu_check.sh $OUT` brings everything back too)
#   GPU_CHECK_SECONDS=570 (the trainings get what is left after steps 1-2; a run still going
#   then is stopped by SIGTERM with a checkpoint, marked `stopped`, and still reported)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh RESULTS_DIR}
mkdir -p "$out"
device=${GPU_CHECK_DEVICE:-cuda}
runs=${GPU_CHECK_RUNS:-${GPU_CHECK_PRESETS:-variational-medium zaremba-medium book-horizontal:book:dropout_placement=horizontal book}}
budget=${GPU_CHECK_SECONDS:-570}
parts=" ${GPU_CHECK_PARTS:-tests bench train} "
python=${PYTHON:-python3}
sets=()
for kv in ${GPU_CHECK_SET:-}; do sets+=(--set "$kv"); done
pylib=${LMCORE_DATA_DIR:-.device-data}/pylib
[[ -d $pylib ]] && export PYTHONPATH="$pylib${PYTHONPATH:+:$PYTHONPATH}"
start=$SECONDS
export PYTHONUNBUFFERED=1

log() { echo "[gpu_check $((SECONDS - start))s] $*" | tee -a "$out/gpu_check.log"; }

log "device=$device parts=${parts# } runs=$runs budget=${budget}s"
$python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee -a "$out/gpu_check.log"

# 1. The graph step's GPU-only tests (they skip themselves without CUDA).
if [[ $parts != *" tests "* ]]; then
  :
elif $python -c "import pytest" 2>/dev/null; then
  timeout 300 $python -m pytest -q -p no:cacheprovider tests/test_graphs.py tests/test_pipeline.py -k test_gpu_ \
      --junitxml="$out/graph_tests.xml" >"$out/graph_tests.log" 2>&1
  log "graph tests exited with $?: $(tail -n 1 "$out/graph_tests.log")"
  $python scripts/junit_json.py "$out/graph_tests.xml" >"$out/graph_tests.json" || log "graph_tests.json FAILED"
else
  log "pytest is not importable: the GPU tests of tests/test_graphs.py did not run"
fi

# 2. Speed: every placement, ordinary step and graph step, against the nn.LSTM reference.
bench_steps=${GPU_CHECK_BENCH_STEPS:-30}
bench() {  # NAME FILE SECONDS SIZES [ARG...]: `lmcore bench --graphs` into RESULTS_DIR/FILE, its outcome logged
  local name=$1 file=$2 seconds=$3 sizes=$4
  shift 4
  timeout "$seconds" $python -m lmcore bench --device "$device" --sizes "$sizes" --steps "$bench_steps" --graphs "$@" \
      --json >"$out/$file" 2>>"$out/gpu_check.log" && log "$name done" || log "$name FAILED"
}
if [[ $parts == *" bench "* ]]; then
[[ $device == cpu ]] && bench_steps=2
bench bench bench.json "${GPU_CHECK_BENCH_SECONDS:-300}" "${GPU_CHECK_SIZES:-200,650}"
# The layers overlapped on CUDA streams, against the 2.5x target that graphed vertical missed.
bench "pipeline bench" bench_pipeline.json "${GPU_CHECK_CELL_SECONDS:-180}" "${GPU_CHECK_CELL_SIZES:-${GPU_CHECK_SIZES:-650}}" \
    --placements none,vertical,variational --pipeline 2,5
# The compiled gate math (lmcore/fused_cell.py) apart, so a compiler failure costs only this file.
if [[ $device == cpu ]]; then
  log "compiled-cell bench skipped on a CPU (tests/test_fused_cell.py checks the cell)"
else
  bench "compiled-cell bench" bench_compiled_cell.json "${GPU_CHECK_CELL_SECONDS:-180}" "${GPU_CHECK_CELL_SIZES:-650}" \
      --placements horizontal,variational --compiled-cell
  # bf16 autocast made nothing faster eagerly (../shared/results); under a graph it may.
  bench "bf16 bench" bench_bf16.json "${GPU_CHECK_CELL_SECONDS:-180}" "${GPU_CHECK_CELL_SIZES:-650}" \
      --placements vertical,variational --amp bf16
fi
# Where a step's device time goes (what bounds the graphed step), vertical and variational.
profile_size=${GPU_CHECK_CELL_SIZES:-650}; profile_vocab=10000
[[ $device == cpu ]] && profile_size=${GPU_CHECK_SIZES:-16} && profile_vocab=200
timeout "${GPU_CHECK_CELL_SECONDS:-180}" $python scripts/profile_step.py --device "$device" --size "${profile_size%%,*}" \
    --vocab "$profile_vocab" --steps "$bench_steps" --json >"$out/profile_step.json" 2>"$out/profile_step.log" \
  && log "step profile done" || log "step profile FAILED"
fi

# 3. The trainings; each stops (with a checkpoint) at the deadline.
train() {  # NAME PRESET CHANGES SECONDS: one run, its summary on stdout, its log, its report
  local name=$1 preset=$2 changes=$3 seconds=$4 run_sets=() pairs=() kv
  IFS=, read -ra pairs <<<"$changes"
  for kv in "${pairs[@]}"; do run_sets+=(--set "$kv"); done
  log "training $name (preset $preset $changes, at most ${seconds}s)"
  # SIGTERM at the deadline: the run checkpoints and stops instead of dying mid-write.
  timeout -s TERM --kill-after=30 "$seconds" $python -m lmcore train --preset "$preset" \
      --set device="$device" --set cuda_graphs=auto "${run_sets[@]}" "${sets[@]}" --runs-dir "$out/runs/$name" \
      --name "$name" --no-progress-bar >"$out/$name.summary.json" 2>"$out/$name.log"
  log "$name exited with $? : $(tail -c 400 "$out/$name.summary.json")"
  local run_dir
  run_dir=$(ls -d "$out/runs/$name"/*/ 2>/dev/null | head -n 1)
  if [[ -n "$run_dir" ]]; then
    $python -m lmcore report "$run_dir" --json "$out/$name.json" --png "$out/$name.png" | tee -a "$out/gpu_check.log"
  fi
}

pack() {  # into GPU_CHECK_PACK, else into RESULTS_DIR itself, under a name that sorts first
  local archive=${GPU_CHECK_PACK:-$out/00-packed.tgz} staged
  staged=$(mktemp --suffix=.tgz)  # outside RESULTS_DIR: tar must not read the file it writes
  tar czf "$staged" --exclude=checkpoints --exclude=00-packed.tgz -C "$(dirname "$out")" "$(basename "$out")" \
    && mv "$staged" "$archive" && echo "packed $out into $archive ($(du -h "$archive" | cut -f1))"
}

if [[ $parts == *" train "* ]]; then
  pids=()
  for entry in $runs; do
    left=$((budget - (SECONDS - start)))
    if (( left < 30 )); then log "no time left for $entry"; continue; fi
    IFS=: read -r name preset changes <<<"$entry"
    if [[ ${GPU_CHECK_TOGETHER:-0} == 1 ]]; then
      train "$name" "${preset:-$name}" "${changes:-}" "$left" & pids+=($!)
    else
      train "$name" "${preset:-$name}" "${changes:-}" "$left"
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
fi
log "done"
pack
