"""Mask statistics per placement, read from the masks the model actually used."""

import numpy as np
import pytest
import torch

from lmcore.config import Config
from lmcore.dropout import DropoutPlan, lesson_masks
from lmcore.model import LanguageModel

V, T, B, H = 50, 12, 64, 40


def _model(placement, p=0.5, p_recurrent=None, layers=2):
    torch.manual_seed(0)
    cfg = Config(dataset="synthetic", layers=layers, embed_size=H, hidden_size=H, dropout=p,
                 dropout_placement=placement, dropout_recurrent=p_recurrent)
    return LanguageModel(V, cfg).train()


def _full_masks(model, tokens):
    """Every site's whole (T, B, F) mask from one forward pass, by intercepting the plan."""
    seen = {}
    original = model.plan.mask

    def spy(site, shape, like):
        mask = original(site, shape, like)
        if mask is not None:
            seen[site] = mask.expand(shape).clone() if mask.shape[0] == 1 else mask.clone()
        return mask

    model.plan.mask = spy
    try:
        model(tokens, model.init_state(tokens.shape[1]))
    finally:
        model.plan.mask = original
    return seen


def _tokens(seed=0):
    return torch.randint(0, V, (T, B), generator=torch.Generator().manual_seed(seed))


def _plan(placement, p=0.5, p_recurrent=None, layers=2):
    return DropoutPlan(Config(dropout_placement=placement, layers=layers, dropout=p, dropout_recurrent=p_recurrent))


def test_sites_per_placement():
    assert _plan("none").sites() == []
    assert _plan("vertical", p_recurrent=0.3).sites() == ["layer1.input", "layer2.input", "layer2.output"]
    full = ["layer1.input", "layer1.recurrent", "layer2.input", "layer2.recurrent", "layer2.output"]
    assert _plan("horizontal").sites() == full
    assert _plan("variational").sites() == full
    assert _plan("variational", p_recurrent=0.0).sites() == ["layer1.input", "layer2.input", "layer2.output"]


@pytest.mark.parametrize("placement", ["none", "vertical", "horizontal", "variational"])
def test_plan_ratios_are_the_configs_own(placement):
    cfg = Config(dropout_placement=placement, dropout=0.4, dropout_recurrent=0.25)
    plan = DropoutPlan(cfg)
    assert (plan.p, plan.p_recurrent) == (cfg.layer_dropout, cfg.recurrent_dropout)


@pytest.mark.parametrize("placement", ["vertical", "horizontal", "variational"])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_values_and_kept_fraction(placement, p):
    masks = _full_masks(_model(placement, p), _tokens())
    assert set(masks) == set(_plan(placement, p).sites())
    for site, mask in masks.items():
        values = set(np.unique(mask.numpy()).round(5))
        assert values <= {0.0, round(1 / (1 - p), 5)}, site
        kept = (mask > 0).float().mean().item()
        # one (B, F) draw for variational, (T, B, F) otherwise: 2,560 or 30,720 Bernoullis
        assert abs(kept - (1 - p)) < 0.04, (site, kept)


def _changes_over_time(mask):
    return (mask[1:] != mask[:-1]).any().item()


def test_vertical_masks_change_every_step_and_spare_the_recurrent_path():
    masks = _full_masks(_model("vertical"), _tokens())
    assert not any("recurrent" in site for site in masks)
    for mask in masks.values():
        assert all((mask[t] != mask[t + 1]).any() for t in range(T - 1))


def test_horizontal_recurrent_masks_change_every_step():
    masks = _full_masks(_model("horizontal"), _tokens())
    for site in ("layer1.recurrent", "layer2.recurrent"):
        assert all((masks[site][t] != masks[site][t + 1]).any() for t in range(T - 1))


def test_variational_masks_are_constant_in_time_and_differ_across_rows_and_windows():
    model = _model("variational")
    first = _full_masks(model, _tokens(0))
    second = _full_masks(model, _tokens(1))
    for site, mask in first.items():
        assert not _changes_over_time(mask), site                 # one mask for the window
        assert (mask[0, 0] != mask[0, 1]).any(), site              # rows get their own masks
        assert (mask[0] != second[site][0]).any(), site            # a new window, new masks


def test_recorded_masks_follow_the_contract():
    model = _model("variational", layers=3)
    model(_tokens(), model.init_state(B))
    recorded = model.plan.recorded_numpy()
    assert set(recorded) == {f"layer{i}.{s}" for i in (1, 2, 3) for s in ("input", "recurrent")} | {"layer3.output"}
    for mask in recorded.values():
        assert mask.shape == (T, H)
        assert not _changes_over_time(torch.from_numpy(mask))


@pytest.mark.parametrize("placement", ["vertical", "horizontal", "variational"])
def test_evaluation_mode_is_the_identity(placement):
    """In eval mode a model with dropout computes exactly what the same weights without it do."""
    model = _model(placement, p=0.6)
    plain = _model("none", p=0.0)
    plain.load_state_dict(model.state_dict())
    model.eval(), plain.eval()
    tokens = _tokens()
    with torch.no_grad():
        a, _ = model(tokens, model.init_state(B))
        b, _ = plain(tokens, plain.init_state(B))
        c, _ = model(tokens, model.init_state(B))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    assert model.plan.recorded == {}


def test_dropout_recurrent_ratio_is_its_own_key():
    masks = _full_masks(_model("variational", p=0.5, p_recurrent=0.2), _tokens())
    kept = (masks["layer1.recurrent"] > 0).float().mean().item()
    assert abs(kept - 0.8) < 0.04
    assert set(np.unique(masks["layer1.recurrent"].numpy()).round(4)) == {0.0, 1.25}


def test_lesson_masks_are_reproducible_and_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    a = lesson_masks("variational", 2, steps=20, units=30, p=0.5, seed=3)
    b = lesson_masks("variational", 2, steps=20, units=30, p=0.5, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert lesson_masks("none", 2, 20, 30, 0.5) == {}
