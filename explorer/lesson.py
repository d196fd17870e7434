"""What the "Inside the model" page explains, as plain values: mask pictures, mask statistics,
and parameter counts with tying on and off. Pure functions of a config or of arrays; the
masks come from the engine's own DropoutPlan (dropout.lesson_masks), never a re-drawing.

A mask is (time, units) with values 0 (dropped) or 1/(1-p) (kept), as in masks.npz.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from lmcore.config import Config
from lmcore.dropout import lesson_masks
from lmcore.errors import RunError
from lmcore.params import formula_counts

SITES = ("input", "recurrent", "output")
LESSON_PLACEMENTS = ("vertical", "horizontal", "variational")
SITE_KEY = re.compile(r"layer(\d+)\.(input|recurrent|output)")
PART_LABELS = {"embedding": "embedding", "decoder_weight": "decoder weight", "decoder_bias": "decoder bias"}


# ---------------------------------------------------------------- sites


def site_title(site: str, layer: int, layers: int) -> str:
    """Where a site sits in the network, in arrows: 'embedding → layer 1', 'h(t-1) → h(t)'."""
    if site == "input":
        return "embedding → layer 1" if layer == 1 else f"layer {layer - 1} → layer {layer}"
    if site == "recurrent":
        return f"h(t-1) → h(t) in layer {layer}"
    return f"layer {layers} → decoder"


def site_order(key: str) -> tuple:
    """Sort masks.npz keys by layer, then input, recurrent, output."""
    match = SITE_KEY.fullmatch(key)
    if not match:
        return (10**6, 0, key)
    return (int(match.group(1)), SITES.index(match.group(2)), key)


def why_no_mask(placement: str, site: str, layer: int, layers: int, p: float, p_recurrent: float) -> str:
    """One sentence on why `placement` draws nothing at `site` of `layer`."""
    if site == "output" and layer != layers:
        return (f"Output dropout sits after the last layer (layer {layers} → decoder). What leaves "
                f"layer {layer} is dropped as the input of layer {layer + 1}.")
    if site == "recurrent" and placement == "vertical":
        return "Vertical dropout leaves the recurrent path h(t-1) → h(t) untouched (Zaremba et al. 2014)."
    ratio = p_recurrent if site == "recurrent" else p
    if ratio == 0:
        return "The ratio for this site is 0: nothing is dropped."
    return "This placement draws no mask here."


def lesson_grid(p: float, p_recurrent: float, steps: int, units: int, layer: int, layers: int = 2,
                seed: int = 0) -> dict:
    """{placement: {site: (time, units) mask or None}} for one layer, drawn by the engine's plan.

    `output` is shown for the last layer only, where it feeds the decoder.
    """
    grid = {}
    for placement in LESSON_PLACEMENTS:
        masks = lesson_masks(placement, layers, steps, units, p, p_recurrent, seed)
        row = {site: masks.get(f"layer{layer}.{site}") for site in SITES}
        if layer != layers:
            row["output"] = None
        grid[placement] = row
    return grid


# ---------------------------------------------------------------- mask statistics


def kept_fraction(mask: np.ndarray) -> float:
    return float((np.asarray(mask) > 0).mean())


def same_every_step(mask: np.ndarray) -> bool:
    """True when every time step reuses the first step's mask (variational dropout)."""
    mask = np.asarray(mask)
    return bool((mask == mask[:1]).all())


def survival_curve(p: float, steps: int) -> np.ndarray:
    """(1-p)^t for t = 0..steps: the chance one unit of h is kept at t fresh masks in a row."""
    return (1.0 - p) ** np.arange(steps + 1)


def survival_verdict(p_recurrent: float, survive: float) -> str:
    """What (1-p)^t means at these settings: the lesson's last sentence must match its own number
    (at p = 0 nothing is lost, and a slider there must not read "lost")."""
    if p_recurrent == 0:
        return "At p = 0 nothing is dropped, so every value survives: raise p to see the noise add up."
    if survive >= 0.5:
        return ("At this p over this many steps most paths through one unit of h stay open; over a longer "
                "window, or at a larger p, they would not.")
    # Not "lost" (QA round 18): the recurrent weights mix every kept unit into the gates at each step, and
    # c is never masked. What compounds is the noise: each step the gates see another random part of h.
    # The book's warning, and what this project measured of it (QA round 29: the lesson said only the warning
    # while the shipped book-horizontal run, this very mask, beat book).
    return ("A path through one and the same unit of h is almost never open that long: at every step the gates see "
            "another random part of h, so the noise compounds over time. The past is not erased (the recurrent "
            "weights mix every kept unit at each step, and c is unmasked), but it reaches the gates ever noisier: "
            "that is why the book keeps dropout off the recurrent path (vertical). Measured here, that noise "
            "regularised more than it hurt: the book recipe with this mask added (the `book-horizontal` reference "
            "run) reached test 74.4 against book's 76.2, and variational dropout, one mask per sequence, "
            "variational-medium's 73.2 (one seed each).")


# From this ratio up almost every unit is dropped: the recipes use 0.5 at most (0.25 on the recurrent path).
HIGH_DROPOUT = 0.9


def high_dropout_notes(cfg: Config) -> list[str]:
    """One line for each ratio of `cfg` that drops almost every unit (HIGH_DROPOUT up to the config's
    limit, below 1): allowed, but dropout 0.999 trained a model that could barely learn with no word
    said. A ratio its placement never uses is left to inert_settings ('has no effect')."""
    ratios = [("Dropout", "unit", cfg.layer_dropout)]
    if cfg.recurrent_dropout != cfg.layer_dropout:
        ratios.append(("The recurrent ratio", "unit of h(t-1)", cfg.recurrent_dropout))
    notes = []
    for label, unit, p in ratios:
        if HIGH_DROPOUT <= p < 1:  # 1 and above are refused, in the problems box
            one_in = f"{1 / (1 - p):,.0f}"  # inverted dropout scales the kept ones by as much: 1/(1-p)
            notes.append(f"{label} {p:g} keeps 1 {unit} in {one_in} on average (each scaled by {one_in}): almost "
                         "every unit is dropped, so the model can barely learn. The recipes use 0.5 at most.")
    return notes


def path_survival(mask: np.ndarray) -> np.ndarray:
    """For t = 1..T, the fraction of units kept at every one of the first t steps of `mask`."""
    kept = np.asarray(mask) > 0                       # (T, U)
    return np.cumprod(kept, axis=0).mean(axis=1)      # (T,)


def site_ratio(site: str, cfg: Config) -> float:
    """The dropout ratio `cfg` uses at a masks.npz site ('layer2.recurrent' -> recurrent ratio)."""
    return cfg.recurrent_dropout if site.endswith(".recurrent") else cfg.layer_dropout


def has_dropout(cfg: Config) -> bool:
    return cfg.layer_dropout > 0 or cfg.recurrent_dropout > 0


def read_masks(path: Path) -> dict | None:
    """masks.npz as {site: float array (time, units)}; None when the file does not exist.

    Raises RunError (with a message) when the file is unreadable or not in the contract's form.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: np.asarray(archive[key], dtype=np.float32) for key in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RunError(f"cannot read {path.name}: {reason}") from None
    bad = [key for key, a in arrays.items() if not SITE_KEY.fullmatch(key) or a.ndim != 2 or a.size == 0]
    if bad:
        raise RunError(f"{path.name}: unexpected entries {', '.join(sorted(bad))} "
                       f"(expected layer<i>.input|recurrent|output arrays of shape (time, units))")
    return {key: arrays[key] for key in sorted(arrays, key=site_order)}


def mask_rows(arrays: dict, cfg: Config) -> list[dict]:
    """One row per recorded site: shape, kept fraction, the 1-p it should be near, reuse over time.
    Unrounded: the page rounds once, as the mask's heading does (QA round 8: 0.51953 rounded to
    0.5195 here read 0.519 in the table beside a heading's 52.0%)."""
    rows = []
    for key, mask in arrays.items():
        ratio = site_ratio(key, cfg)
        rows.append({"site": key, "time steps": mask.shape[0], "units": mask.shape[1],
                     "kept fraction": kept_fraction(mask), "1 - p": 1.0 - ratio,
                     "same mask every step": same_every_step(mask)})
    return rows


# ---------------------------------------------------------------- parameters and tying


def part_label(part: str) -> str:
    match = re.fullmatch(r"layer(\d+)", part)
    return f"LSTM layer {match.group(1)}" if match else PART_LABELS.get(part, part)


def tying_counts(cfg: Config, vocab_size: int) -> dict:
    """formula_counts with tying off and on; `tied` is None when the sizes do not allow tying."""
    possible = cfg.embed_size == cfg.hidden_size
    untied = formula_counts(cfg.replace(tie_weights=False), vocab_size)
    tied = formula_counts(cfg.replace(tie_weights=True), vocab_size) if possible else None
    return {"untied": untied, "tied": tied, "possible": possible,
            "saves": untied["total"] - tied["total"] if tied else 0}


def part_rows(counts: dict) -> list[dict]:
    """[{part, untied, tied}] in network order, for a grouped bar chart."""
    untied, tied = counts["untied"]["parts"], (counts["tied"] or {}).get("parts")
    return [{"part": part_label(part), "untied": untied[part], "tied": tied[part] if tied else None}
            for part in untied]

