"""Layers pipelined over chunks of the window compute the plain layer loop's function: the same
masks, outputs, carried state and gradients, so a speed-up from overlapping them changes no number."""

from __future__ import annotations

import pytest
import torch

from conftest import SMALL
from lmcore.config import Config
from lmcore.graphs import EagerStep, GraphedStep
from lmcore.model import LanguageModel
from lmcore.pipeline import chunk_bounds
from lmcore.runs import create_run
from lmcore.session import run
from lmcore.train import autocast
from runlogs import assert_same_logs

VOCAB, STEPS, BATCH = 40, 7, 3
CASES = [("none", 0.0), ("vertical", 0.5), ("horizontal", 0.5), ("variational", 0.5)]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def model_pair(placement, dropout, chunks, layers=2, device="cpu"):
    """The plain model and a pipelined one with the same weights."""
    cfg = Config(dataset="synthetic", layers=layers, embed_size=6, hidden_size=8, dropout=dropout,
                 dropout_placement=placement, tie_weights=False, init="torch")
    torch.manual_seed(0)
    plain = LanguageModel(VOCAB, cfg).to(device).train()
    pipelined = LanguageModel(VOCAB, cfg, pipeline=chunks).to(device).train()
    pipelined.load_state_dict(plain.state_dict())
    return plain, pipelined


def tokens(count=1, device="cpu"):
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(0, VOCAB, (STEPS + 1, BATCH), generator=generator).to(device) for _ in range(count)]


def forward_and_grads(model, data, state=None):
    torch.manual_seed(5)  # the same masks for both models
    state = state or model.init_state(BATCH)
    logits, new_state = model(data[:-1], state)
    loss = torch.nn.functional.cross_entropy(logits.view(-1, VOCAB), data[1:].reshape(-1))
    model.zero_grad()
    loss.backward()
    return logits.detach(), new_state, {name: p.grad.clone() for name, p in model.named_parameters()}


def test_chunks_cover_the_window_in_near_equal_pieces():
    assert chunk_bounds(35, 5) == [(0, 7), (7, 14), (14, 21), (21, 28), (28, 35)]
    assert chunk_bounds(7, 3) == [(0, 2), (2, 5), (5, 7)]
    assert chunk_bounds(3, 8) == [(0, 1), (1, 2), (2, 3)]   # never an empty piece
    assert chunk_bounds(1, 1) == [(0, 1)]


@pytest.mark.parametrize("placement,dropout", CASES)
@pytest.mark.parametrize("chunks,layers", [(3, 2), (7, 2), (2, 3)])
def test_pipelined_layers_give_the_plain_loops_outputs_state_masks_and_gradients(placement, dropout, chunks,
                                                                                 layers):
    plain, pipelined = model_pair(placement, dropout, chunks, layers)
    data = tokens()[0]
    expected, pipe = forward_and_grads(plain, data), forward_and_grads(pipelined, data)
    torch.testing.assert_close(pipe[0], expected[0], rtol=1e-6, atol=1e-6)
    for (h, c), (h_expected, c_expected) in zip(pipe[1], expected[1]):
        torch.testing.assert_close(h, h_expected, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(c, c_expected, rtol=1e-6, atol=1e-6)
    for name, grad in expected[2].items():
        torch.testing.assert_close(pipe[2][name], grad, rtol=1e-5, atol=1e-6, msg=name)
    assert plain.plan.recorded.keys() == pipelined.plan.recorded.keys()
    assert len(plain.plan.recorded) == (0 if dropout == 0 else len(plain.plan.sites()))
    for site, mask in plain.plan.recorded.items():
        assert torch.equal(pipelined.plan.recorded[site], mask), site


def test_a_pipelined_model_carries_its_state_across_windows_and_evaluates_alike():
    plain, pipelined = model_pair("horizontal", 0.5, chunks=3)
    first, second = tokens(2)
    states = {}
    for name, model in (("plain", plain), ("pipelined", pipelined)):
        _, state, _ = forward_and_grads(model, first)
        states[name] = forward_and_grads(model, second, [(h.detach(), c.detach()) for h, c in state])
    torch.testing.assert_close(states["pipelined"][0], states["plain"][0], rtol=1e-6, atol=1e-6)
    plain.eval(), pipelined.eval()
    with torch.no_grad():
        expected, _ = plain(first[:-1], plain.init_state(BATCH))
        torch.testing.assert_close(pipelined(first[:-1], pipelined.init_state(BATCH))[0], expected)


def test_one_layer_runs_unpipelined():
    plain, pipelined = model_pair("vertical", 0.5, chunks=3, layers=1)
    data = tokens()[0]
    assert torch.equal(forward_and_grads(pipelined, data)[0], forward_and_grads(plain, data)[0])


def test_a_run_with_layer_pipeline_logs_what_the_plain_run_logs(runs_root):
    changes = dict(dropout=0.3, dropout_placement="horizontal", eval_every=60, log_every=7)
    plain = create_run({**SMALL, **changes}, runs_root)
    expected = run(plain, show_progress=False)
    pipelined = create_run({**SMALL, **changes, "layer_pipeline": 4}, runs_root)
    got = run(pipelined, show_progress=False)
    assert got["test_ppl"] == pytest.approx(expected["test_ppl"], rel=1e-5)
    assert_same_logs(pipelined, plain)
    assert (pipelined / "config.json").read_text().count('"layer_pipeline": 4') == 1


@cuda
@pytest.mark.parametrize("placement,dropout", [("none", 0.0), ("vertical", 0.0), ("variational", 0.0)])
def test_gpu_a_pipelined_model_captures_and_trains_as_the_plain_eager_one(placement, dropout):
    device = torch.device("cuda")
    batches = tokens(60, device)
    curves = {}
    for kind in ("eager", "graphed"):
        plain, pipelined = model_pair(placement, dropout, chunks=5, device=device)
        model = plain if kind == "eager" else pipelined
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        no_autocast = lambda cache_enabled=True: autocast("none", device, cache_enabled)  # noqa: E731
        step = (EagerStep(model, model, optimizer, 0.25, no_autocast) if kind == "eager" else
                GraphedStep(model, model, optimizer, 0.25, no_autocast, capture=True))
        state, losses = model.init_state(BATCH), []
        for data in batches:
            loss, _, state = step(data[:-1], data[1:], state)
            losses.append(float(loss))
        curves[kind] = losses
        if kind == "graphed":
            assert step.captured
    relative = [abs(g - e) / abs(e) for g, e in zip(curves["graphed"], curves["eager"])]
    assert max(relative) < 1e-4, max(relative)


class FakeStream:
    """Stands in for a CUDA stream on the CPU and logs what the pipeline asks of it."""

    def __init__(self, name, log):
        self.name, self.log = name, log

    def wait_stream(self, other):
        self.log.append(f"{self.name} waits for {other.name}")


def test_each_layers_chunk_waits_for_the_layer_below_and_the_caller_joins_every_stream(monkeypatch):
    """The stream protocol, which only a GPU runs for real: layer 2's chunk c waits for what layer 1
    queued up to its chunk c, tensors handed across are recorded on the reading stream, and the
    caller waits for every side stream before it reads the output."""
    import contextlib

    from lmcore import pipeline

    log, recorded = [], []
    lanes = [FakeStream("caller", log), FakeStream("lane2", log), FakeStream("lane3", log)]
    monkeypatch.setattr(pipeline.LayerStreams, "for_layers", lambda self, layers, device: lanes[:layers])
    monkeypatch.setattr(pipeline, "_on", lambda lane: contextlib.nullcontext(log.append(f"run on {lane.name}")))
    monkeypatch.setattr(torch.Tensor, "record_stream", lambda tensor, stream: recorded.append(stream.name),
                        raising=False)
    plain, pipelined = model_pair("horizontal", 0.5, chunks=2, layers=3)
    data = tokens()[0]
    torch.testing.assert_close(forward_and_grads(pipelined, data)[0], forward_and_grads(plain, data)[0])
    chunk = ["run on caller", "lane2 waits for caller", "run on lane2", "lane3 waits for lane2", "run on lane3"]
    assert log == ["lane2 waits for caller", "lane3 waits for caller", *chunk, *chunk,
                   "caller waits for lane2", "caller waits for lane3"]
    # masks and state into each side lane (input, recurrent, h, c), each chunk handed up, outputs and
    # new state back to the caller
    assert recorded.count("lane2") == recorded.count("lane3") == 4 + 2
    assert recorded.count("caller") == 2 + 2 + 2   # lane2's state, lane3's state and its 2 outputs
