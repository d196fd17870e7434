"""Where dropout goes, and the masks it draws.

Every mask is inverted dropout: values 0 or 1/(1-p), so evaluation needs no rescaling and
uses no mask at all. Three placements (docs/design.md):

- vertical: a fresh mask per time step on the connections between layers
  (embedding -> layer 1 -> ... -> decoder), Zaremba et al. 2014;
- horizontal: vertical plus a fresh mask per time step on h(t-1) -> h(t);
- variational: one mask per sequence and window, reused at every step, on each layer's
  input, the last layer's output and the recurrent path (Gal & Ghahramani 2016).

Site names follow the masks.npz contract: `layer{i}.input` (into layer i, the embedding for
i = 1), `layer{i}.recurrent`, `layer{L}.output`.
"""

from __future__ import annotations

import torch

from .config import Config


def draw_mask(shape, p: float, like: torch.Tensor, generator=None) -> torch.Tensor:
    """A mask of zeros and 1/(1-p) with keep probability 1-p, on `like`'s device and dtype."""
    keep = 1.0 - p
    # uniform < keep is a Bernoulli(keep) draw; on a CPU it is 3-5x faster than bernoulli_
    # (docs/performance.md), and it costs the same on a GPU.
    mask = torch.rand(shape, device=like.device, dtype=like.dtype, generator=generator)
    return mask.lt_(keep).div_(keep)


class DropoutPlan:
    """Which sites a config drops, with what ratio and mask shape; records what it drew.

    The ratios are the config's own (Config.layer_dropout, Config.recurrent_dropout), so the
    rule "which placement drops where" has one home. `recorded` keeps, for the latest forward
    pass, each site's mask for the first sequence of the batch as a (time, units) view, so a
    run can show the masks it actually used.
    """

    def __init__(self, cfg: Config, generator=None):
        self.generator = generator
        self.layers = cfg.layers
        self.p = cfg.layer_dropout
        self.p_recurrent = cfg.recurrent_dropout
        self.per_sequence = cfg.dropout_placement == "variational"
        self.recorded: dict[str, torch.Tensor] = {}

    def sites(self) -> list[str]:
        names = []
        for i in range(1, self.layers + 1):
            if self.p > 0:
                names.append(f"layer{i}.input")
            if self.p_recurrent > 0:
                names.append(f"layer{i}.recurrent")
        if self.p > 0:
            names.append(f"layer{self.layers}.output")
        return names

    def apply(self, x: torch.Tensor, site: str) -> torch.Tensor:
        """Drop a (T, B, F) connection at a non-recurrent site."""
        mask = self.mask(site, x.shape, x)
        return x if mask is None else x * mask

    def recurrent_mask(self, layer: int, steps: int, h: torch.Tensor) -> torch.Tensor | None:
        """The mask on h(t-1) of `layer` (h is (B, H)) in the form LSTMLayer takes: None,
        (B, H) for one mask per window, or (T, B, H) for a fresh one per step."""
        mask = self.mask(f"layer{layer}.recurrent", (steps, *h.shape), h)
        if mask is None or not self.per_sequence:
            return mask
        return mask[0]                                      # (B, H), reused at every step

    def mask(self, site: str, shape, like: torch.Tensor) -> torch.Tensor | None:
        """The mask for `site` on a connection of shape (T, B, F), or None for no dropout;
        `like` gives its device and dtype.

        Per-step placements give (T, B, F); variational gives (1, B, F), which broadcasts the
        same mask over every time step of the window.
        """
        p = self.p_recurrent if site.endswith(".recurrent") else self.p
        if p == 0.0:
            return None
        steps, batch, units = shape
        mask = draw_mask((1 if self.per_sequence else steps, batch, units), p, like, self.generator)
        self.recorded[site] = mask[:, 0, :].expand(steps, units)  # (T, F) view, no copy
        return mask

    def recorded_numpy(self) -> dict:
        """The latest masks as float32 numpy arrays keyed by site (for masks.npz)."""
        return {site: m.detach().float().cpu().numpy() for site, m in self.recorded.items()}


def lesson_masks(placement: str, layers: int, steps: int, units: int, p: float,
                 p_recurrent: float | None = None, seed: int = 0) -> dict:
    """The masks a placement would draw for one sequence, for teaching pictures.

    Uses the same DropoutPlan as training, built from a config as training builds it, so the
    pictures are the engine's behaviour, not an illustration of it. `p_recurrent` None means
    the same ratio as `p`, as the config key dropout_recurrent does.
    """
    generator = torch.Generator().manual_seed(seed)
    cfg = Config(dropout_placement=placement, layers=layers, dropout=p, dropout_recurrent=p_recurrent)
    plan = DropoutPlan(cfg, generator)
    like = torch.empty(0)                                   # float32 on the CPU
    for site in plan.sites():
        plan.mask(site, (steps, 1, units), like)
    return plan.recorded_numpy()
