"""The training loop: one readable loop that calls back instead of printing or saving.

A Trainer owns the model, optimizer, schedule and position in the data. Callbacks (runs.py's
recorder, the progress bar) decide what to do with train lines, evaluations, samples, masks
and checkpoints. Everything needed to continue exactly lives in `checkpoint()`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time

import torch

from .checkpoints import epoch_checkpoint_name, keeps_epoch_checkpoints
from .config import Config
from .data import Corpus, batchify, get_batch, train_windows
from .divergence import DivergenceWatch
from .evaluate import mean_nll, perplexity
from .graphs import graphs_enabled, make_step
from .lstm import trainer_path
from .model import LanguageModel
from .params import formula_counts
from .sampling import generate
from .schedule import Schedule
from .timing import PauseWatch, PhaseClock


class Callbacks:
    """No-op base; a callback overrides what it cares about."""

    def on_train_log(self, record: dict) -> None: ...
    def on_eval(self, record: dict) -> None: ...
    def on_sample(self, record: dict) -> None: ...
    def on_masks(self, arrays: dict) -> None: ...
    def on_checkpoint(self, names: tuple[str, ...], payload: dict) -> None: ...  # one state, each name
    def on_progress(self, trainer: "Trainer") -> None: ...
    def on_evaluation(self, progress: dict) -> None: ...  # a split being read: Trainer.evaluate
    def on_pause(self, pause: dict) -> None: ...  # {"step", "seconds", "during"}: left out of the time
    def stop_requested(self) -> bool:
        return False


def improves(ppl: float, best: float | None) -> bool:
    """Whether a validation is the new best (validate() keeps it; an epoch's end saves it as best.pt)."""
    return best is None or ppl < best


def resolve_device(name: str) -> torch.device:
    from .errors import ConfigError

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda requested but no CUDA GPU is available; use auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device: mps requested but Apple's MPS is not available; use auto or cpu")
    return torch.device(name)


def prepare_device(device: torch.device) -> None:
    """On CUDA, let float32 matmuls use TF32 tensor cores (PyTorch's own recommendation for
    training; cuDNN's LSTM already does), a large speed-up for the decoder on Ampere and later.

    On the CPU, flush floats below 1.2e-38 to zero. A run whose gates saturate (a diverging one)
    makes such numbers and x86 works each out slowly: tiny at Adam lr 0.2 trained 16 times slower
    with them, its logged losses the same to the last digit either way (scripts/bench_denormals.py,
    docs/performance.md "Denormal numbers")."""
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    else:
        torch.set_flush_denormal(True)


def autocast(amp: str, device: torch.device, cache_enabled: bool = True):
    """bf16 autocast on CUDA when asked for; elsewhere a context that changes nothing
    (bf16 autocast on a CPU is slower than float32 for these models). A CUDA graph needs
    cache_enabled=False: cached casts of the weights would go stale between replays."""
    if amp == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=cache_enabled)
    return contextlib.nullcontext()


def make_optimizer(cfg: Config, model: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


class Trainer:
    def __init__(self, cfg: Config, corpus: Corpus, device: torch.device, callbacks: list[Callbacks]):
        self.cfg, self.corpus, self.device, self.callbacks = cfg, corpus, device, callbacks
        torch.manual_seed(cfg.seed)
        # compile=true compiles the whole model, cell included: auto leaves the cell to it.
        graphed = graphs_enabled(cfg.cuda_graphs, device) and device.type == "cuda" and not cfg.compile
        self.model = LanguageModel(corpus.vocab_size, cfg, trainer_path(cfg.compiled_cell, graphed),
                                   pipeline=cfg.layer_pipeline).to(device)
        self.forward = torch.compile(self.model) if cfg.compile else self.model
        self.optimizer = make_optimizer(cfg, self.model)
        # The steps' autocast; evaluation reads float32 (evaluate). A partial, not a bound method: the step
        # keeps it, and a cycle back to the trainer would hold its GPU memory until a garbage collection.
        self.autocast = functools.partial(autocast, cfg.amp, device)
        # EagerStep, or GraphedStep when cuda_graphs asks for it (lmcore/graphs.py)
        self.step_function = make_step(cfg, self.model, self.forward, self.optimizer, device, self.autocast)
        self.schedule = Schedule(cfg)
        self.train_streams = batchify(corpus.train, cfg.batch_size).to(device)   # (N, B)
        self.valid_streams = batchify(corpus.valid, cfg.eval_batch_size).to(device)
        self.test_streams = batchify(corpus.test, cfg.eval_batch_size).to(device)
        self.windows = train_windows(self.train_streams, cfg.bptt)
        planned = self.windows * cfg.epochs
        self.total_steps = min(planned, cfg.max_steps) if cfg.max_steps else planned
        self.log_every = cfg.log_every or max(1, self.windows // 50)
        self.step, self.epoch, self.window = 0, 1, 0
        self.best_val: float | None = None  # this run's own: best.pt, the status's best and the test follow it
        # A fork's starting checkpoint's validation (lmcore.fork), else None: the plateau schedule's
        # reference too, never this run's best (plateau_reference).
        self.start_val: float | None = None
        self.last_eval_step = -1
        self.last_save_step = -1
        self.watch = DivergenceWatch(corpus.vocab_size)
        self.elapsed = 0.0
        self._clock = time.perf_counter()  # fit() restarts it; now() must read before fit too
        self.clock = PhaseClock(device)  # what evaluating, sampling and saving take of `elapsed`
        # Pauses (kill -STOP, a stuck disk: lmcore.timing's rule) are left out of `elapsed` and kept here.
        self.paused = 0.0
        self.pauses, self.eval_pauses = PauseWatch(self.clock), PauseWatch()
        self._paused_at_lap = 0.0
        self.state = self.model.init_state(cfg.batch_size)
        self.keep_epochs = keeps_epoch_checkpoints(cfg, self.params()["total"])
        self._reset_interval()

    # ------------------------------------------------------------ helpers

    def params(self) -> dict:
        return formula_counts(self.cfg, self.corpus.vocab_size)

    def _emit(self, method: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, method)(*args)

    def _reset_interval(self):
        # `phases`: the clock's total at the start, so the interval's speed leaves out its evaluations and
        # saves (a log after a validation read a tenth of the steps' speed).
        self.interval = {"loss": torch.zeros((), device=self.device), "norm": torch.zeros((), device=self.device),
                         "losses": [], "steps": 0, "start": time.perf_counter(), "phases": self.clock.total()}

    def now(self) -> float:
        return self.elapsed + (time.perf_counter() - self._clock)

    @property
    def planned_epochs(self) -> int:
        """The epochs the plan reaches: `epochs`, or fewer where max_steps cuts it (60 steps of 149 an
        epoch is 1, not "epoch 1/8")."""
        return min(self.cfg.epochs, math.ceil(self.total_steps / self.windows)) if self.windows else self.cfg.epochs

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    # ------------------------------------------------------------ the loop

    def fit(self) -> str:
        """Train to the end (returns 'finished') or until a stop is requested ('stopped')."""
        self._clock = time.perf_counter()
        self.pauses.restart()
        self._paused_at_lap = self.paused
        self.model.train()
        while not self.done:
            if self.window == 0:
                self.state = self.model.init_state(self.cfg.batch_size)
            self.train_step()
            self.check_pause()
            # The end of the run and of each epoch log their partial interval too: a line after an epoch's
            # end carried its last steps into the next epoch's train perplexity (QA round 12).
            if self.step % self.log_every == 0 or self.done or self.window == self.windows:
                self.log_train()
            epoch_ends = self.window == self.windows
            if self.cfg.eval_every and self.step % self.cfg.eval_every == 0 and not epoch_ends:
                self.validate()
            if epoch_ends:
                self.end_epoch()
            elif self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                self.save("last")
            self._emit("on_progress", self)
            if self.callbacks and any(c.stop_requested() for c in self.callbacks) and not self.done:
                self.save("last")
                return "stopped"
        if self.last_eval_step != self.step:  # max_steps ended mid-epoch
            self.validate()
        self.watch.finish(self.step)
        if self.last_save_step != self.step:  # max_steps ended mid-epoch, maybe on an eval step
            self.save("last")
        return "finished"

    def train_step(self) -> None:
        cfg = self.cfg
        inputs, targets = get_batch(self.train_streams, self.window * cfg.bptt, cfg.bptt)  # (T, B)
        loss, norm, self.state = self.step_function(inputs, targets, self.state)
        # Kept on the device: reading them every step would stall a GPU.
        self.interval["losses"].append(loss)
        self.interval["norm"] += norm
        self.interval["steps"] += 1
        self.step += 1
        self.window += 1

    def check_pause(self) -> None:
        """Leave out of the time a pause in the stretch since the last step (lmcore.timing.PauseWatch):
        the previous step's logging and callbacks, and this step; its evaluations and saves are timed
        apart, less any pause found inside them."""
        seconds = self.pauses.lap(left_out=self.paused - self._paused_at_lap)
        if seconds:
            self.leave_out(seconds, "training", self.pauses.usual)
        self._paused_at_lap = self.paused

    def leave_out(self, seconds: float, during: str, usual: float = 0.0) -> None:
        """A pause of `seconds` just ended: `elapsed`, the train line's speed and an open phase go on
        as if it had not happened; `paused` keeps it. The train line's interval may have begun inside
        the paused stretch (the pause in its log write): it keeps at least a `usual` stretch's steps."""
        self._clock += seconds
        stepping = time.perf_counter() - self.interval["start"] - (self.clock.total() - self.interval["phases"])
        self.interval["start"] += min(seconds, max(stepping - usual, 0.0))
        self.paused += seconds
        if during != "training":
            self.clock.left_out += seconds
        self._emit("on_pause", {"step": self.step, "seconds": seconds, "during": during})

    def log_train(self) -> None:
        steps = self.interval["steps"]
        losses = torch.stack(self.interval["losses"]).float().cpu()  # (steps,): the one sync per log
        self.watch.train(self.step, losses.tolist())
        elsewhere = self.clock.total() - self.interval["phases"]
        seconds = max(time.perf_counter() - self.interval["start"] - elsewhere, 1e-9)
        loss = float(losses.mean())
        tokens = steps * self.cfg.batch_size * self.cfg.bptt
        record = {"kind": "train", "step": self.step, "epoch": self.epoch, "loss": loss,
                  "ppl": perplexity(loss), "lr": self.schedule.lr, "tokens_per_s": tokens / seconds,
                  "grad_norm": float(self.interval["norm"]) / steps, "time": self.now()}
        self._emit("on_train_log", record)
        self._reset_interval()

    def end_epoch(self) -> None:
        best_before = self.best_val
        val_ppl = self.validate(save_best=False)
        lr = self.schedule.after_epoch(self.epoch, val_ppl, self.plateau_reference(best_before))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.epoch += 1
        self.window = 0
        # One state, written once under each name: best.pt is the epoch's end after its
        # bookkeeping, as a fork from best would make it (fork.finish_epoch), with the same weights.
        names = ["last"] + (["best"] if improves(val_ppl, best_before) else [])
        if self.keep_epochs:  # kept under the epoch's name for forks
            names.append(epoch_checkpoint_name(self.epoch - 1))
        self.save(*names)

    def plateau_reference(self, best_before: float | None) -> float | None:
        """What the plateau schedule compares an epoch's validation with: the best so far, or a fork's
        starting validation if that is lower. A fork's lr then decays when it does not beat where it
        started, as its parent's would have, and as forks did when their best began at the starting
        validation; only the reported best and the test became the fork's own."""
        known = [value for value in (best_before, self.start_val) if value is not None]
        return min(known) if known else None

    # ------------------------------------------------------------ evaluation

    def evaluate(self, split: str) -> float:
        """The split's perplexity. Callbacks hear on_evaluation as it starts (done 0), after each window
        and as it ends (done 1): on PTB a CPU reads the validation set for tens of seconds, which the
        Train page showed as the last step with its ETA (QA round 14)."""
        streams = {"valid": self.valid_streams, "test": self.test_streams}[split]
        about = {"split": split, "step": self.step, "epoch": self.record_epoch(),
                 "words": len(getattr(self.corpus, split))}

        def progress(done: int, total: int) -> None:
            if seconds := self.eval_pauses.lap():
                self.leave_out(seconds, "evaluation")
            self._emit("on_evaluation", {**about, "done": done / total})

        self._emit("on_evaluation", {**about, "done": 0.0})
        with self.clock.phase("evaluation"):
            self.eval_pauses.restart()
            # In float32 whatever amp trains with: a bf16 run's perplexities then compare with float32 runs'
            # to their digits, and on an H200 a bf16 book run's 40 validations and test took 25.5 s under
            # autocast, 12.0 s in float32 (docs/performance.md).
            ppl = perplexity(mean_nll(self.model, streams, self.cfg.bptt, progress=progress))
        self._emit("on_evaluation", {**about, "done": 1.0})  # also where the split had no window
        return ppl

    def validate(self, save_best: bool = True) -> float:
        """The validation perplexity, logged with a sample and the masks; an improvement is the new
        best, saved as best.pt unless the caller saves it with the epoch's end."""
        ppl = self.evaluate("valid")
        self.watch.validation(self.step, math.log(ppl))
        self.last_eval_step = self.step
        self._emit("on_eval", self._eval_record("val", ppl))
        with self.clock.phase("saving"):
            self._emit("on_masks", self.model.plan.recorded_numpy())
        with self.clock.phase("sampling"):
            sample = self.sample()
        self._emit("on_sample", sample)
        if improves(ppl, self.best_val):
            self.best_val = ppl
            if save_best:
                self.save("best")
        return ppl

    def test(self, best_state: dict | None) -> float:
        if best_state is not None:
            self.model.load_state_dict(best_state)
        ppl = self.evaluate("test")
        self._emit("on_eval", self._eval_record("test", ppl))
        return ppl

    def record_epoch(self) -> int:
        """The epoch an evaluation now belongs to. An epoch that has ended moved the counter on: a record
        after it (the test line) belongs to it. The cap alone missed a max_steps that ended on an epoch's
        last step (QA round 13: val epoch 4, test 5)."""
        return self.epoch - 1 if self.window == 0 and self.step > 0 else self.epoch

    def _eval_record(self, kind: str, ppl: float) -> dict:
        return {"kind": kind, "step": self.step, "epoch": self.record_epoch(), "loss": math.log(ppl),
                "ppl": ppl, "lr": self.schedule.lr, "time": self.now()}

    def sample(self) -> dict:
        cfg = self.cfg
        result = generate(self.model, self.corpus.words, cfg.sample_prompt, cfg.sample_words,
                          cfg.sample_temperature, seed=cfg.seed)
        # The prompt as the model read it: words outside the vocabulary are <unk> or dropped.
        return {"step": self.step, "epoch": self.epoch, "prompt": " ".join(result["prompt"]),
                "temperature": cfg.sample_temperature, "text": result["text"]}

    # ------------------------------------------------------------ checkpoints

    def checkpoint(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(), "rng": rng, "config": self.cfg.to_dict(),
            "vocab_size": self.corpus.vocab_size,
            "progress": {"step": self.step, "epoch": self.epoch, "window": self.window, "windows": self.windows,
                         "best_val": self.best_val, "start_val": self.start_val, "elapsed": self.now(),
                         "last_eval_step": self.last_eval_step, "divergence": self.watch.state_dict(),
                         "time_spent": self.clock.state_dict(), "paused": self.paused},
            "hidden": [[h.cpu(), c.cpu()] for h, c in self.state],
            "interval": {"losses": [float(x) for x in self.interval["losses"]],
                         "norm": float(self.interval["norm"]), "steps": self.interval["steps"]},
        }

    def save(self, *names: str) -> None:
        """One checkpoint payload, serialized once and kept under each name (runs.RunWriter.checkpoint)."""
        if "last" in names:
            self.last_save_step = self.step
        with self.clock.phase("saving"):
            self._emit("on_checkpoint", names, self.checkpoint())

    def restore(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.schedule.load_state_dict(payload["schedule"])
        progress = payload["progress"]
        self.step, self.epoch, self.window = progress["step"], progress["epoch"], progress["window"]
        self.best_val, self.elapsed = progress["best_val"], progress["elapsed"]
        self.start_val = progress.get("start_val")  # forks made before it existed kept it in best_val
        self.last_eval_step = progress.get("last_eval_step", -1)
        self.last_save_step = self.step
        if "divergence" in progress:
            self.watch.load_state_dict(progress["divergence"])
        self.clock.load_state_dict(progress.get("time_spent"))
        paused = progress.get("paused")  # checkpoints from before pauses were left out have none
        self.paused = float(paused) if isinstance(paused, (int, float)) and math.isfinite(paused) else 0.0
        self.state = [(h.to(self.device), c.to(self.device)) for h, c in payload["hidden"]]
        self._reset_interval()
        interval = payload.get("interval") or {}
        self.interval["losses"] = [torch.tensor(x, device=self.device) for x in interval.get("losses", [])]
        self.interval["norm"] += interval.get("norm", 0.0)
        self.interval["steps"] = interval.get("steps", 0)
        torch.set_rng_state(payload["rng"]["torch"])
        if "cuda" in payload["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(payload["rng"]["cuda"], self.device)
