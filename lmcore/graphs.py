"""One training step, and the same step replayed as a CUDA graph (issue 10).

On a GPU a step of these models is bound by kernel launches and Python, not by arithmetic:
a 35-step window of the hand-written recurrence is hundreds of small dependent kernels. A
CUDA graph records them once and replays them with one launch. What a graph needs, and how
GraphedStep provides it:

- fixed addresses: the graph reads its window and carried (h, c) from static buffers, so each
  call copies the window in, and the step copies the new state back at its end (after the
  backward pass, which still reads the old state: cuDNN saves h(0));
- no host syncs inside: loss and gradient norm stay on the device (cloned out after each call,
  so the trainer's interval keeps one loss per step, as the divergence watch needs);
- a learning rate the graph reads from memory: a device tensor that fused SGD/Adam accept
  (Python-float lrs would be frozen into the graph); a float the trainer's schedule puts into
  a param group is copied into that tensor before the next step, with no re-capture;
- dropout masks drawn inside the step from torch's default generator, which torch.cuda.graph
  registers: each replay advances its philox offset, so every replay draws fresh masks;
- warm-up on a side stream before capture (the first calls, which are real training steps),
  one training iteration per graph, autocast's weight cache off (PyTorch's CUDA-graph notes).

Without capture (a CPU, or cuda_graphs=on where there is no GPU) the same code runs eagerly,
which is how the tests check its buffer handling against the ordinary step.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F

from .model import detach_state

WARMUP_CALLS = 3  # eager steps on a side stream before capture, as in PyTorch's example


def graphs_enabled(mode: str, device: torch.device) -> bool:
    """The config key cuda_graphs: `auto` is on for CUDA only, `on` and `off` say so."""
    return mode == "on" or (mode == "auto" and device.type == "cuda")


def describe_step(step, model) -> str:
    """How the run's steps execute, for status.json and the Train page: whether a CUDA graph
    replays them (or why not) and whether the gate cell is compiled. A user who sees a run
    slower than expected can tell a fallback from a slow machine."""
    if isinstance(step, GraphedStep):
        if step.captured:
            kind = "CUDA graph"
        elif step.failed:
            kind = "eager (CUDA graph capture failed)"
        elif step.capture:
            kind = "eager warm-up, then a CUDA graph"
        else:
            kind = "graph step run eagerly (no GPU)"
    else:
        kind = "eager"
    fused_cell = sys.modules.get("lmcore.fused_cell")  # imported only once a compiled path ran
    if fused_cell and fused_cell.compiled_for(model):
        kind += ", compiled cell"
    return kind


def window_step(forward, model, optimizer, inputs, targets, state, max_norm: float, autocast):
    """Forward, loss, backward, clipping and the optimizer step on one window.

    inputs, targets (T, B); state one (h, c) per layer. Returns the loss, the gradient norm
    before clipping (both device tensors) and the new state.
    """
    with autocast():
        logits, new_state = forward(inputs, state)                     # (T, B, V)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]).float(), targets.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.detach(), norm.detach(), new_state


class EagerStep:
    """The ordinary step: the carried state is cut from the previous window's graph first."""

    def __init__(self, model, forward, optimizer, max_norm: float, autocast):
        self.model, self.forward, self.optimizer = model, forward, optimizer
        self.max_norm, self.autocast = max_norm, autocast

    def __call__(self, inputs, targets, state):
        return window_step(self.forward, self.model, self.optimizer, inputs, targets, detach_state(state),
                           self.max_norm, self.autocast)


def make_step(cfg, model, forward, optimizer, device: torch.device, autocast):
    """The trainer's step for `cfg`: GraphedStep when cuda_graphs asks for one (capturing only
    on CUDA), else EagerStep. `autocast(cache_enabled=True)` gives the run's autocast context."""
    max_norm = cfg.clip if cfg.clip > 0 else math.inf
    if not graphs_enabled(cfg.cuda_graphs, device):
        return EagerStep(model, forward, optimizer, max_norm, autocast)
    return GraphedStep(model, forward, optimizer, max_norm, autocast, capture=device.type == "cuda")


def _learning_rate_to_float(optimizer, state_dict: dict) -> dict:
    """Checkpoints keep plain float lrs, as the ordinary step's do, whatever the step object."""
    for group in state_dict["param_groups"]:
        if torch.is_tensor(group["lr"]):
            group["lr"] = float(group["lr"])
    return state_dict


class GraphedStep(EagerStep):
    """A training step with static buffers, captured as a CUDA graph after WARMUP_CALLS eager
    calls when `capture`, run eagerly otherwise; called like EagerStep.

    The optimizer must not get new state tensors after capture (restore before the first call).
    A window of another shape than the first (a short last window) runs eagerly.
    """

    def __init__(self, model, forward, optimizer, max_norm: float, autocast, capture: bool):
        # autocast without its cast cache: cached casts would go stale in a graph
        super().__init__(model, forward, optimizer, max_norm, lambda: autocast(cache_enabled=False))
        self.capture = capture
        self.device = model.decoder.weight.device
        self.learning_rates: dict[int, torch.Tensor] = {}
        self.inputs = self.targets = self.state = None   # the static buffers, sized by the first window
        self.loss = self.norm = None                     # the step's outputs (graph memory once captured)
        self.graph = None
        self.failed = False                              # capture was tried and failed: eager for good
        self.calls = 0
        optimizer.register_state_dict_post_hook(_learning_rate_to_float)

    def __call__(self, inputs, targets, state):
        self._own_learning_rates()
        if self.inputs is None:
            self._allocate(inputs, targets, state)
        if inputs.shape != self.inputs.shape:
            return super().__call__(inputs, targets, state)
        self._load(inputs, targets, state)
        if self.graph is not None:
            self.graph.replay()
        elif self.capture and self.calls >= WARMUP_CALLS:
            self._capture_or_fall_back()
        elif self.capture:
            self._warm_up()
        else:
            self._body()
        self.calls += 1
        # Clones: the graph rewrites its outputs in place at every replay.
        return self.loss.clone(), self.norm.clone(), self.state

    @property
    def captured(self) -> bool:
        return self.graph is not None

    # ------------------------------------------------------------ the step

    def _body(self) -> None:
        loss, norm, new_state = window_step(self.forward, self.model, self.optimizer, self.inputs, self.targets,
                                            self.state, self.max_norm, self.autocast)
        with torch.no_grad():  # after backward: the backward pass still read the old state
            for (h, c), (new_h, new_c) in zip(self.state, new_state):
                h.copy_(new_h)                                         # (B, H)
                c.copy_(new_c)
        self.loss, self.norm = loss, norm

    def _warm_up(self) -> None:
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            self._body()
        torch.cuda.current_stream(self.device).wait_stream(stream)

    def _capture(self) -> None:
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self._body()

    def _capture_or_fall_back(self) -> None:
        """Capture and run the step; if this GPU, driver or torch cannot capture it, say so once
        on stderr and train on eagerly (a run must not die for a speed-up). Capture records the
        step without running it, so the step runs after the capture either way."""
        try:
            self._capture()
        except RuntimeError as error:
            self.graph, self.capture, self.failed = None, False, True
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"warning: CUDA graph capture failed ({message}); training goes on without graphs "
                  f"(set cuda_graphs=off to skip the attempt)", file=sys.stderr)
            self._body()
            return
        self.graph.replay()

    # ------------------------------------------------------------ buffers and the learning rate

    def _allocate(self, inputs, targets, state) -> None:
        self.inputs, self.targets = torch.empty_like(inputs), torch.empty_like(targets)   # (T, B)
        self.state = [(torch.empty_like(h), torch.empty_like(c)) for h, c in state]      # (B, H) each

    def _load(self, inputs, targets, state) -> None:
        self.inputs.copy_(inputs)
        self.targets.copy_(targets)
        for (h, c), (new_h, new_c) in zip(self.state, state):
            if h is not new_h:  # the trainer hands back our own buffers except after a reset or resume
                h.copy_(new_h.detach())
                c.copy_(new_c.detach())

    def _own_learning_rates(self) -> None:
        """Each param group reads its lr from a device tensor of ours; a float put there (the
        schedule, a restored checkpoint) is copied into that tensor."""
        for index, group in enumerate(self.optimizer.param_groups):
            tensor = self.learning_rates.get(index)
            if group["lr"] is tensor:
                continue
            if tensor is None:
                tensor = self.learning_rates[index] = torch.tensor(float(group["lr"]), device=self.device)
                self._make_capturable(group)
            else:
                tensor.fill_(float(group["lr"]))
            group["lr"] = tensor

    def _make_capturable(self, group: dict) -> None:
        # Fused SGD and Adam read a tensor lr on the device; foreach SGD would call .item() on it.
        group["fused"], group["foreach"] = True, False
        if "capturable" in group:  # Adam: its graph-capture check wants this on CUDA
            group["capturable"] = self.device.type == "cuda"
        for parameter in group["params"]:
            step = self.optimizer.state.get(parameter, {}).get("step")
            if torch.is_tensor(step) and step.device != parameter.device:  # from an eager Adam's checkpoint
                self.optimizer.state[parameter]["step"] = step.to(parameter.device, torch.float32)
