"""The command line: `python -m lmcore <command>`.

User mistakes (bad config values, missing data, a broken run folder) print one line per
problem on stderr and exit with code 2, without a traceback. Every command that takes a run takes
its folder, its id, or a name, preset or id tail only one run has (find_run).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

from .ablation import CONFIRM_ABOVE
from .config import SAMPLING_SEED_MAX, key_problem
from .errors import ConfigError, LmcoreError, RunError, no_space

RUN_HELP = ("a run folder, or a run id in the runs folder or among the shipped reference runs; a name, preset or "
            "the id's last 4 characters where only one run (yours or a reference run) has it")


def _add_config_args(parser):
    parser.add_argument("--preset", help="start from a preset (see `presets`)")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="change one config key; repeat for more")


def _add_backend_args(parser):
    parser.add_argument("--backend", choices=("local", "ray"), default=None,
                        help="where queued runs train: local processes or a Ray cluster (kept for the queue; "
                             "docs/ray.md)")
    parser.add_argument("--address", default=None, help="the Ray cluster: auto or HOST:PORT (default auto)")


def chunk_counts(text: str) -> list[int]:
    """bench --pipeline: "5" or "3,5,7", each a whole number of chunks from 1 up."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"chunk counts of 1 or more, like 5 or 3,5,7 (got {text!r})")
    return counts


def ruled(key: str, kind=int, shown: str = "value"):
    """An argparse type: a number (`kind`) within the limits of the config key `key`, so `sample
    --words` and `--temperature` take what a run's sample_words and sample_temperature take; the
    message says `shown` where the rule names the key."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole ' if kind is int else ''}number: {text!r}") from None
        problem = key_problem(key, value)
        if problem:
            raise argparse.ArgumentTypeError(problem.replace(key, shown))
        return value
    return parse


def states(text: str) -> list[str]:
    """runs --state: "failed" or "failed,stopped", each a state a run can be in."""
    from .listing import STATES

    given = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [state for state in given if state not in STATES]
    if unknown or not given:
        raise argparse.ArgumentTypeError(f"not a state: {', '.join(unknown) or repr(text)} "
                                         f"(states: {', '.join(STATES)})")
    return given


def whole(low: int, high: int | None = None, meaning: str = ""):
    """An argparse type: a whole number from `low` (to `high`)."""
    def parse(text: str):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            limits = f"from {low:,} to {high:,}" if high is not None else f"of {low:,} or more"
            raise argparse.ArgumentTypeError(f"a whole number {limits}{meaning} (got {text!r})")
        return value
    return parse


class Parser(argparse.ArgumentParser):
    """A usage error in one line, as every other error of the CLI: argparse printed its whole usage block
    before the line that said what was wrong (QA round 20: five lines for `sample --temperature 0`).
    Subcommands' parsers are of this class too (add_subparsers takes its parser's)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (`{self.prog} --help` lists what it takes)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m lmcore", description="LSTM language-model engine")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("presets", help="list presets, one line each")

    train = commands.add_parser("train", help="train a new run in the foreground")
    _add_config_args(train)
    train.add_argument("--like", metavar="RUN", help="start from that run's config.json instead of a preset (a "
                       "folder, id, name or id tail), from step 0: the same config, seed, device and CPU thread "
                       "count train bit-for-bit the same numbers, another thread count rounds differently (about "
                       "1e-7 relative; it says which count the run used; docs/design.md, Reproducing a run); "
                       "--set changes keys of it")
    train.add_argument("--runs-dir", help="where run folders live (default: $LMCORE_RUNS_DIR or ./runs)")
    train.add_argument("--name", default="", help="a label for the run (its id stays generated); without it, "
                       "'PRESET · key=value' for up to three keys the --set values change")
    train.add_argument("--no-progress-bar", action="store_true")

    resume = commands.add_parser("resume", help="continue a stopped, killed or failed run (or start a queued one)")
    resume.add_argument("run_dir", metavar="run", help=RUN_HELP)
    resume.add_argument("--no-progress-bar", action="store_true")

    free = commands.add_parser("free", help="delete runs' epoch checkpoints (epoch-N.pt), keeping best.pt and "
                               "last.pt: they resume and sample as before; only forks from an epoch go")
    free.add_argument("run_dirs", metavar="run", nargs="+", help=RUN_HELP)

    evaluate = commands.add_parser("eval", help="perplexity of a run's checkpoint on a split")
    evaluate.add_argument("run_dir", metavar="run", help=RUN_HELP)
    evaluate.add_argument("--split", choices=("valid", "test"), default="valid")
    evaluate.add_argument("--checkpoint", choices=("best", "last"), default="best")
    evaluate.add_argument("--mc-samples", type=whole(1), default=None, metavar="K",
                          help="also MC-dropout perplexity: average the probabilities of K passes with dropout on")
    evaluate.add_argument("--seed", type=whole(0, SAMPLING_SEED_MAX), default=0, help="seed of the MC-dropout masks")

    sample = commands.add_parser("sample", help="generate text from a run's checkpoint")
    sample.add_argument("run_dir", metavar="run", help=RUN_HELP)
    sample.add_argument("--prompt", default="the")
    sample.add_argument("--words", type=ruled("sample_words", int, "words"), default=30,
                        help="words to generate (0 to 1000)")
    sample.add_argument("--temperature", type=ruled("sample_temperature", float, "temperature"), default=1.0,
                        help="more than 0, at most 100: below 1 sharper, above 1 more random")
    sample.add_argument("--top-k", type=whole(0, meaning=" (0: every word)"), default=0,
                        help="sample among the k most likely words only (0: every word)")
    sample.add_argument("--seed", type=whole(0, SAMPLING_SEED_MAX), default=0)
    sample.add_argument("--checkpoint", choices=("best", "last"), default="best")
    sample.add_argument("--json", action="store_true", help="also the top-10 next words at every step")

    params = commands.add_parser("params", help="parameter counts of a config (no training)")
    _add_config_args(params)

    commands.add_parser("download", help="fetch and verify the Penn Treebank")

    report = commands.add_parser("report", help="a run's results as JSON (per-epoch perplexity, test, timing) "
                                 "and a PNG")
    report.add_argument("run_dir", metavar="run", help=RUN_HELP)
    report.add_argument("--json", dest="json_path", metavar="FILE",
                        help="write the report to FILE and print a one-line summary (default: print the report)")
    report.add_argument("--png", dest="png_path")

    listing = commands.add_parser("runs", help="one line per run: yours, then the shipped reference runs")
    listing.add_argument("--runs-dir", help="where run folders live (default: $LMCORE_RUNS_DIR or ./runs)")
    listing.add_argument("--json", action="store_true", help="a JSON list instead, one object per run")
    listing.add_argument("--state", dest="states", type=states, action="append", default=[], metavar="STATE",
                         help="only runs in this state (queued, running, finished, stopped, failed, broken); "
                              "repeat it or give a comma list for several")
    listing.add_argument("--group", help="only the runs of this grid group (`runs --groups` lists them)")
    listing.add_argument("--name", dest="text", metavar="TEXT", help="only runs whose name, preset or id "
                         "holds TEXT (case aside)")
    listing.add_argument("--limit", type=whole(1), metavar="N", help="only the newest N of the runs listed")
    listing.add_argument("--groups", action="store_true", help="instead: one line per grid group, newest "
                         "first, with its preset, run count and toggles")

    queue = commands.add_parser("queue", help="run queued runs, a few at a time, until none is left")
    queue.add_argument("--runs-dir")
    queue.add_argument("--concurrency", type=int, default=None)
    _add_backend_args(queue)

    grid = commands.add_parser("grid", help="queue an ablation grid: every combination of --vary values, "
                               "each run with --seeds seeds; prints JSON")
    _add_config_args(grid)
    grid.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                      help="a key and the values to try; repeat for more keys")
    grid.add_argument("--seeds", type=int, default=1, help="runs per combination, seeds seed, seed+1, ...")
    grid.add_argument("--concurrency", type=int, default=None, help="runs training at once (the queue's setting)")
    grid.add_argument("--wait", action="store_true", help="wait for the runs, then print the effects JSON too")
    grid.add_argument("--yes", action="store_true", help=f"queue more than {CONFIRM_ABOVE} runs")
    grid.add_argument("--runs-dir")
    _add_backend_args(grid)

    fork = commands.add_parser("fork", help="a new run from a run's checkpoint with a few keys changed (dropout, "
                               "lr and its schedule, epochs, clip, seed); prints JSON, then trains like train")
    fork.add_argument("run", help="the parent, one of your runs: its folder, its id in --runs-dir, or a name, "
                      "preset or the id's last 4 characters only one run has (the shipped reference runs kept no "
                      "checkpoints: they cannot be forked)")
    fork.add_argument("--from", dest="source", default="last", metavar="best|last|epoch:N",
                      help="the parent's checkpoint to start from (default last)")
    fork.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                      help="change one key; repeat for more")
    fork.add_argument("--start", action=argparse.BooleanOptionalAction, default=True,
                      help="train the fork in the foreground now (default), or only create it, stopped at its "
                      "fork step, for `resume` or the Train page's Resume (--no-start)")
    fork.add_argument("--runs-dir", help="where the fork goes (default: beside a parent given as a folder, "
                      "else $LMCORE_RUNS_DIR or ./runs)")
    fork.add_argument("--no-progress-bar", action="store_true")

    effects = commands.add_parser("effects", help="what each toggle of a grid did, with 95%% intervals")
    effects.add_argument("group")
    effects.add_argument("--runs-dir")
    shown = effects.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="the whole report as JSON: intervals, states and reasons")
    shown.add_argument("--cells-csv", action="store_true", help="one CSV row per cell: toggles' values, n, mean, "
                       "sd and 95%% interval of each metric, seeds, unfinished and missing runs")

    bench = commands.add_parser("bench", help="training speed of every placement vs a plain nn.LSTM model")
    bench.add_argument("--sizes", default="200,650")
    bench.add_argument("--batch", type=int, default=20)
    bench.add_argument("--bptt", type=int, default=35)
    bench.add_argument("--steps", type=int, default=10)
    bench.add_argument("--layers", type=int, default=2)
    bench.add_argument("--vocab", type=int, default=10000)
    bench.add_argument("--device", default="cpu")
    bench.add_argument("--placements", default="none,vertical,horizontal,variational")
    bench.add_argument("--amp", choices=("none", "bf16"), default="none")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--threads", type=int, default=0, help="CPU threads (0 = one per available core)")
    bench.add_argument("--graphs", action="store_true",
                       help="also train every placement through the CUDA-graph step (run eagerly off a GPU)")
    bench.add_argument("--compiled-cell", action="store_true",
                       help="also time the masked placements among --placements (horizontal, variational; "
                            "variational if neither) with their gate math compiled (torch.compile; slow to start)")
    bench.add_argument("--pipeline", type=chunk_counts, default=[], metavar="CHUNKS",
                       help="also time every placement with its layers pipelined over CHUNKS pieces of the "
                            "window on CUDA streams (e.g. 5, or 3,5,7; graphed with --graphs)")
    bench.add_argument("--autograd-loop", action="store_true",
                       help="also time variational with a plain per-step autograd recurrence")
    bench.add_argument("--reading", action="store_true",
                       help="instead: how a page refresh scales with a run's number of metric lines")
    return parser


def cmd_presets(args) -> int:
    from .presets import PRESETS

    width = max(len(name) for name in PRESETS)
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  {preset.summary}")
    return 0


def cmd_train(args) -> int:
    from .config import parse_assignments, unused_notes
    from .presets import described_name, prompt_for, resolve
    from .runs import create_run

    named = {"name": args.name} if args.name else {}
    if args.like:
        cfg = _like(args.like, args.preset, args.runs_dir, parse_assignments(args.assignments), named)
    else:
        cfg = resolve(args.preset, args.assignments, named)
    assigned = {item.partition("=")[0].strip() for item in args.assignments}
    if "sample_prompt" not in assigned and not args.like:  # a copy keeps the prompt its run chose
        cfg = cfg.replace(sample_prompt=prompt_for(cfg.dataset, cfg.sample_prompt, cfg.preset))
    _check_corpus([cfg])
    chosen = cfg.name  # --name or --set name=: the id is made of it either way (QA round 12)
    if not cfg.name:  # named as the app names it, so Compare's list and legends tell runs apart
        cfg = cfg.replace(name=described_name(cfg.to_dict()))
    folder = create_run(cfg.to_dict(), args.runs_dir, label=chosen or cfg.preset)
    print(f"run folder: {folder}", file=sys.stderr)
    for line in unused_notes(cfg, assigned):
        print(f"note: {line}", file=sys.stderr)
    return _run_folder(folder, not args.no_progress_bar)


def _like(given: str, preset: str | None, root, changes: dict, named: dict):
    """`train --like RUN`: RUN's config with `changes` on top, as lmcore.copies makes it; what the copy
    leaves out is said on stderr once the config is valid."""
    from . import copies
    from .presets import resolve
    from .reference import is_reference
    from .runs import read_config, read_status

    if preset:
        raise ConfigError([f"--like {given} and --preset {preset}: give one, the run's config or a preset"])
    folder = find_run(given, root)
    raw = read_config(folder)
    if raw is None:
        raise RunError(f"{folder}: its config.json is unreadable, so there is no recipe to train again")
    changed = set(changes) | set(named)
    original, notes, threads = copies.recipe(raw, folder.name, is_reference(folder), changed, read_status(folder))
    try:
        cfg = resolve(None, None, {**original, **changes, **named})
    except ConfigError as error:
        raise ConfigError([copies.from_config_json(p, folder.name, changed) for p in error.problems]) from None
    if "name" not in changed:
        cfg = cfg.replace(name=copies.copy_name(original, cfg.to_dict()))
    head = [f"its config with {', '.join(sorted(changes))} set"] if changes else [] if notes else ["the same config"]
    print(f"like {folder.name}: " + "; ".join([*head, *notes, *filter(None, [threads])]) + ".", file=sys.stderr)
    return cfg


def _check_corpus(configs) -> None:
    """A corpus that cannot train (a binary, non-UTF-8 or too short text file, a split too small for
    the batch it is cut into) is refused before a run folder is made for it: a config that cannot run
    creates nothing. The Train page's check (data.corpus_problems)."""
    from .data import corpora_problems

    found = corpora_problems(configs)
    if found:
        raise ConfigError(found)


def run_named(given: str, root=None) -> Path | None:
    """The one run whose name or id tail (`tiny`, `book`, `823d`), else preset, is `given`, looked up among
    the user's runs and the reference runs together: a user's own `book` run and the shipped one share
    the name, and neither may silently win. RunError naming the candidates when several match."""
    from .summaries import list_runs, reference_runs, runs_named

    found = list_runs(root) + reference_runs()
    matches = runs_named(given, found)
    if len(matches) == 1:
        return matches[0].path
    if matches:
        raise RunError(_ambiguous(given, matches, found))
    return None


def _ambiguous(given: str, matches, found) -> str:
    """"'book' names 2 runs: <id> (book), <id> (book · reference (NVIDIA H200)); give a run id ..." in one line.
    The reference runs among them are always listed: they are the ones a user is least likely to
    expect to clash with."""
    references = [s for s in matches if s.is_reference]
    shown = [s for s in matches if not s.is_reference][:max(0, 5 - len(references))] + references
    listed = ", ".join(f"{s.id} ({s.name})" for s in shown)  # a reference run's name says so: "book · reference (...)"
    more = f", and {len(matches) - len(shown)} more" if len(matches) > len(shown) else ""
    tails = [s.short_id for s in found]
    example = next((s.short_id for s in shown if tails.count(s.short_id) == 1), None)
    tail = f" (or its last 4 characters, such as {example}, where only one run has them)" if example else ""
    return f"{given!r} names {len(matches)} runs: {listed}{more}; give a run id{tail}"


def find_run(given: str, root=None) -> Path:
    """The run folder `given` names: a folder, else a run id in the runs folder (`root`, else
    $LMCORE_RUNS_DIR or ./runs), then among the shipped reference runs, else the one run with that
    name, preset or id tail (run_named). Every command that takes a run reads it here; a RunError in
    one line says where it looked when there is no such run."""
    from .reference import reference_dir
    from .runs import runs_dir

    folder = Path(given).expanduser()
    if not folder.is_dir():
        # Names are looked up for any text no run id can be: the app's names have spaces and '='
        # ("tiny · max_steps=60"), and locate_run's RunError for them ended the lookup (QA round 16).
        folder = _run_with_id(given, root) or run_named(given, root)
        if folder is None and os.sep in given:  # a path: the folder it names is not there
            raise RunError(f"{given}: not a run folder (no such folder)")
        if folder is None:
            raise RunError(f"no run {given!r}: no such folder here, nor a run id, name or id tail in {runs_dir(root)} "
                           f"or {reference_dir()} (`lmcore runs` lists them)")
    if not (folder / "config.json").exists():
        raise RunError(f"{folder}: not a run folder (no config.json){_holding_runs(folder)}")
    return folder


def _run_with_id(given: str, root=None) -> Path | None:
    """locate_run, with None for text no run id can be (a name with spaces, a path)."""
    from .runs import locate_run

    try:
        return locate_run(given, root)
    except RunError:
        return None


def _holding_runs(folder: Path) -> str:
    """The runs folder itself given for a run: say so."""
    held = sum(1 for child in folder.iterdir() if (child / "config.json").is_file())
    return (f"; it holds {held:,} run folder{'s' if held != 1 else ''}: name one (`runs --runs-dir {folder}` "
            f"lists them)") if held else ""


def _checkpointed_run(given: str, which: str, action: str) -> Path:
    """find_run, refusing a shipped reference run whose checkpoints were not kept in the words
    resume and fork use, rather than 'no checkpoint at docs/results/runs/...'."""
    from .checkpoints import checkpoint_path
    from .runs import refuse_reference

    folder = find_run(given)
    if not checkpoint_path(folder, which).exists():
        refuse_reference(folder, f"{action} (its checkpoints were not kept)")
    return folder


def cmd_resume(args) -> int:
    return _run_folder(find_run(args.run_dir), not args.no_progress_bar)


def cmd_free(args) -> int:
    from .disk import free_epoch_checkpoints, megabytes

    freed, refused, done = 0, 0, set()
    for given in args.run_dirs:
        try:
            folder = find_run(given)
            if folder.resolve() in done:  # named twice (its name and its id tail): freed once, said once
                continue
            done.add(folder.resolve())
            before = free_epoch_checkpoints(folder)
        except RunError as error:
            print(f"error: {error}", file=sys.stderr)
            refused += 1
            continue
        freed += before.spare
        print(f"{folder.name}: {before.epochs} epoch checkpoint{'s' if before.epochs != 1 else ''} deleted, "
              f"{megabytes(before.spare)} freed (best.pt and last.pt kept)")
    if len(args.run_dirs) > 1:
        print(f"{megabytes(freed)} freed in all")
    return 1 if refused else 0


def _run_folder(folder: Path, progress: bool) -> int:
    from .session import run, say_on_stderr

    result = run(folder, show_progress=progress, say=say_on_stderr)
    if result.get("note"):
        print(f"note: {result['note']}", file=sys.stderr)
    if result.get("warning"):
        print(f"warning: this run is {result['warning']}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def cmd_eval(args) -> int:
    from .checkpoints import load_model
    from .config import from_dict
    from .data import batchify, load_corpus
    from .evaluate import mean_nll, perplexity

    folder = _checkpointed_run(args.run_dir, args.checkpoint, "evaluated")
    model, _, payload = load_model(folder, args.checkpoint)
    cfg = from_dict(payload["config"])
    corpus = load_corpus(cfg)
    streams = batchify(getattr(corpus, args.split), cfg.eval_batch_size)
    nll = mean_nll(model, streams, cfg.bptt)
    result = {"run": folder.name, "split": args.split, "checkpoint": args.checkpoint,
              "step": payload["progress"]["step"], "loss": nll, "ppl": perplexity(nll)}
    if args.mc_samples:
        from .evaluate import mc_dropout_nll

        mc_nll = mc_dropout_nll(model, streams, cfg.bptt, args.mc_samples, args.seed)
        result.update(mc_samples=args.mc_samples, mc_seed=args.seed, mc_loss=mc_nll, mc_ppl=perplexity(mc_nll))
    print(json.dumps(result))
    return 0


def cmd_sample(args) -> int:
    from .checkpoints import load_model
    from .sampling import generate, unknown_note, whole_text

    model, words, _ = load_model(_checkpointed_run(args.run_dir, args.checkpoint, "sampled"), args.checkpoint)
    result = generate(model, words, args.prompt, args.words, args.temperature, args.top_k, args.seed)
    if note := unknown_note(result["unknown"], result["unknown_as_unk"]):  # the Generate page's rule and words
        print(note, file=sys.stderr)
    print(json.dumps(result) if args.json else whole_text(result))
    return 0


def cmd_params(args) -> int:
    from .params import formula_counts
    from .presets import resolve
    from .sizes import vocab_size_for

    cfg = resolve(args.preset, args.assignments)
    vocab = vocab_size_for(cfg)
    if vocab is None:
        from .data import load_corpus

        vocab = load_corpus(cfg).vocab_size
    print(json.dumps(formula_counts(cfg, vocab), indent=1))
    return 0


def cmd_download(args) -> int:
    from .ptb import ensure_ptb, stderr_progress

    print(ensure_ptb(download=True, progress=stderr_progress()))
    return 0


def cmd_report(args) -> int:
    from .report import write

    json_path = Path(args.json_path) if args.json_path else None
    result = write(find_run(args.run_dir), json_path, Path(args.png_path) if args.png_path else None)
    if json_path is None:
        print(json.dumps(result, indent=1))
        return 0
    shown = ("run", "state", "error", "device", "best_val_ppl", "test_ppl", "seconds_per_epoch")
    print(json.dumps({k: result[k] for k in shown if k in result}))  # error: only a failed run has one
    return 0


def cmd_runs(args) -> int:
    from . import listing
    from .runs import runs_dir
    from .summaries import list_runs, reference_runs

    found = list_runs(args.runs_dir) + reference_runs()
    states = [state for given in args.states for state in given]
    chosen = [s for s in found if listing.matches(s, states, args.group, args.text)]
    if args.groups:
        groups = listing.grid_groups(chosen)[:args.limit]
        if groups or args.json:
            print(json.dumps(groups) if args.json else "\n".join(listing.group_lines(groups)))
        elif chosen:  # a header over nothing said nothing (QA round 20)
            print("no grid groups among these runs: `lmcore grid` queues one", file=sys.stderr)
    else:
        chosen = listing.newest(chosen, args.limit)
        print(json.dumps([run_record(summary) for summary in chosen]) if args.json
              else "\n".join(run_lines(chosen)))
    if not any(not summary.is_reference for summary in found):
        print(f"no runs of yours in {runs_dir(args.runs_dir)}", file=sys.stderr)
    elif not chosen:
        print(f"no run matches {_filters(args, states)} in {runs_dir(args.runs_dir)} or the reference runs",
              file=sys.stderr)
    return 0


def _filters(args, states: list[str]) -> str:
    """"--state failed,stopped --name adam": the filters given, as `runs` was given them."""
    given = [("--state", ",".join(states)), ("--group", args.group), ("--name", args.text)]
    return " ".join(f"{flag} {value}" for flag, value in given if value)


# The recipe keys a script filtering `runs --json` reaches for, under their config names: a seed study
# had to open each config.json to pair its runs (QA round 19).
LISTED_KEYS = ("dataset", "layers", "hidden_size", "dropout", "dropout_placement", "dropout_recurrent",
               "tie_weights", "optimizer", "lr", "epochs", "seed")


def run_record(summary) -> dict:
    """A run's line of `runs --json`: the summary's numbers under the Compare CSV's column names (it had
    no final validation, best epoch or time, QA round 12), and its grid group, preset and creation time
    (local, "2026-06-01T14:12:23"), which a listing of 300 runs needs to be searched (QA round 16), and
    its recipe (LISTED_KEYS; None where config.json lacks the key)."""
    from .disk import usage
    from .listing import created_text

    return {"id": summary.id, "state": summary.state, "name": summary.name, "best_val_ppl": summary.best_val,
            "final_val_ppl": summary.final_val, "best_epoch": summary.best_epoch, "test_ppl": summary.test,
            "params": summary.params, "step": summary.step, "total_steps": summary.total_steps,
            "steps_per_epoch": summary.steps_per_epoch, "training_seconds": summary.training_seconds,
            "tokens_per_s": summary.tokens_per_s, "device": summary.device,
            "threads_used": list(summary.threads_used) or None, "reference": summary.is_reference,
            "problem": summary.problem, "warning": summary.guessing_note or summary.unknown_note,
            "silent": summary.silence_note,
            "folder": str(summary.path), "disk_bytes": usage(summary.path).total if summary.path else None,
            "group": summary.config.get("group") or None, "preset": summary.config.get("preset") or None,
            "created": created_text(summary), **{key: summary.config.get(key) for key in LISTED_KEYS}}


def run_lines(summaries) -> list[str]:
    """`runs`: a header, then one aligned line per run; a failed or broken run ends with why. A queued
    run has trained no step yet, and its status's 0 would read as a step done."""
    from .listing import aligned

    rows = [("id", "state", "name", "best val", "test", "steps")]
    for s in summaries:
        steps = f"{s.step:,}" if s.step is not None and s.state != "queued" else "-"
        rows.append((s.id, s.state, s.name, _ppl(s.best_val), _ppl(s.test),
                     f"{steps}/{s.total_steps:,}" if s.total_steps else steps))
    lines = aligned(rows, right={3, 4, 5})
    notes = [s.problem or s.guessing_note or s.unknown_note or s.silence_note for s in summaries]
    return lines[:1] + [line + (f"  ({note})" if note else "") for line, note in zip(lines[1:], notes)]


def _ppl(value) -> str:
    return f"{value:.2f}" if value is not None else "-"


def cmd_queue(args) -> int:
    from .queue import set_backend, work
    from .runs import runs_dir

    if args.backend:
        set_backend(runs_dir(args.runs_dir), args.backend, args.address)
    work(args.runs_dir, args.concurrency)
    return 0


def cmd_grid(args) -> int:
    from . import grid_commands

    configs = grid_commands.build(args.preset, args.assignments, args.vary, args.seeds, args.yes,
                                  args.concurrency)
    _check_corpus(configs)
    queued = grid_commands.queue_grid(configs, args.runs_dir, args.concurrency, args.backend, args.address)
    print(json.dumps(queued), flush=True)
    if not args.wait:
        return 0
    members = grid_commands.wait(args.runs_dir, queued["group"])
    print(json.dumps(grid_commands.report(args.runs_dir, queued["group"])))
    unfinished = [s for s in members if s.state != "finished"]
    for summary in unfinished:
        print(f"{summary.name}: {summary.state}: {summary.problem or ''}", file=sys.stderr)
    return 1 if unfinished else 0


def cmd_effects(args) -> int:
    from . import grid_commands

    if args.cells_csv:
        print(grid_commands.cells_csv(args.runs_dir, args.group), end="")
        return 0
    found = grid_commands.report(args.runs_dir, args.group)
    print(json.dumps(found) if args.json else grid_commands.format_report(found))
    return 0


def cmd_fork(args) -> int:
    from .config import parse_assignments
    from .fork import fork_run
    from .runs import read_config, runs_dir
    from .session import say_on_stderr

    parent = find_run(args.run, args.runs_dir)
    given_as_folder = Path(args.run).expanduser().is_dir()
    root = args.runs_dir or (parent.parent if given_as_folder else runs_dir())
    folder = fork_run(parent, args.source, parse_assignments(args.assignments), root, say=say_on_stderr)
    config = read_config(folder)
    print(json.dumps({"run": folder.name, "parent": config["parent"], "fork_step": config["fork_step"],
                      "fork_from": config["fork_from"], "folder": str(folder)}), flush=True)
    return _run_folder(folder, not args.no_progress_bar) if args.start else 0


def cmd_bench(args) -> int:
    from .bench import main

    return main(args)


COMMANDS = {"presets": cmd_presets, "train": cmd_train, "resume": cmd_resume, "eval": cmd_eval,
            "sample": cmd_sample, "params": cmd_params, "download": cmd_download, "queue": cmd_queue,
            "report": cmd_report, "runs": cmd_runs, "grid": cmd_grid, "effects": cmd_effects, "fork": cmd_fork,
            "bench": cmd_bench, "free": cmd_free}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # a usage error (argparse printed it) exits 2; --help exits 0
        return done.code
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except LmcoreError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lmcore runs | head`: the reader has what it wanted
        # Python flushes stdout again at exit, into the closed pipe: point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a command a closed pipe ended (128 + SIGPIPE)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        # Creating a run on a full disk ended in a 20-line traceback (QA round 13).
        print(f"error: {no_space(error.filename or 'the runs folder')}", file=sys.stderr)
        return 2
