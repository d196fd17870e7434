"""lmcore.effects: main effects and interactions of a grid, checked against hand-computed cases."""

import dataclasses
import json
import math

import pytest

from lmcore import effects, stats
from lmcore.summaries import from_parts, list_runs

# Best validation of a 2x2 grid (placement none/vertical x tied false/true), seeds 1 and 2.
BEST = {("none", False, 1): 100.0, ("none", False, 2): 104.0, ("none", True, 1): 95.0, ("none", True, 2): 97.0,
        ("vertical", False, 1): 90.0, ("vertical", False, 2): 96.0,
        ("vertical", True, 1): 84.0, ("vertical", True, 2): 87.0}


def summary(placement, tied, seed, best, state="finished"):
    config = {"dropout_placement": placement, "tie_weights": tied, "seed": seed, "group": "g",
              "name": f"placement={placement} tied={str(tied).lower()} seed={seed}", "layers": 1}
    status = {"state": state, "best_val_ppl": best, "test_ppl": best - 3.0, "final_val_ppl": best + 10.0,
              "best_epoch": 2}
    return from_parts(f"{placement}-{tied}-{seed}", "runs/x", config, status, None)


def grid(values=BEST, drop=()):
    return [summary(*key, best) for key, best in values.items() if key not in drop]


def pick(report, metric="best_val", **where):
    rows = report["effects" if "toggle" in where else "interactions"]
    return next(r for r in rows if r["metric"] == metric and all(r[k] == v for k, v in where.items()))


def test_balanced_grid_pairs_by_seed_and_the_other_toggle():
    report = effects.grid_effects(grid(), "g")
    assert report["toggles"] == ["dropout_placement", "tie_weights"] and report["finished"] == 8
    tied = pick(report, toggle="tie_weights")
    # Pairs (placement, seed): 95-100, 97-104, 84-90, 87-96 = -5, -7, -6, -9; mean -6.75,
    # sd sqrt(8.75/3) = 1.7078, se 0.8539, t(3) 3.1824: -6.75 +- 2.7175.
    assert (tied["reference"], tied["level"], tied["method"], tied["n"]) == ("false", "true", "paired", 4)
    assert tied["estimate"] == pytest.approx(-6.75)
    assert (tied["low"], tied["high"]) == pytest.approx((-9.4675, -4.0325), abs=1e-3)
    assert tied["verdict"] == "lower"
    # Test is best - 3 and final validation best + 10 in every run: the same differences.
    assert pick(report, "test", toggle="tie_weights")["estimate"] == pytest.approx(-6.75)
    assert pick(report, "final_val", toggle="tie_weights")["estimate"] == pytest.approx(-6.75)
    assert report["cells"][0]["final_val"]["mean"] == pytest.approx(112.0)


def test_interaction_is_the_difference_of_differences_paired_by_seed():
    found = pick(effects.grid_effects(grid(), "g"), toggles=["dropout_placement", "tie_weights"])
    # Seed 1: (84-90)-(95-100) = -1; seed 2: (87-96)-(97-104) = -2; mean -1.5, sd 0.7071,
    # se 0.5, t(1) 12.706: -1.5 +- 6.353, which contains 0.
    assert found["levels"] == [["none", "vertical"], ["false", "true"]]
    assert found["method"] == "paired" and found["n"] == 2 and found["estimate"] == pytest.approx(-1.5)
    assert (found["low"], found["high"]) == pytest.approx((-7.853, 4.853), abs=1e-3)
    assert found["verdict"] == "within noise"


def test_an_unbalanced_grid_stays_paired_over_the_runs_that_have_their_partner():
    """A run that did not finish leaves its partners out: the rest stay paired, not Welch."""
    runs = grid(drop=[("vertical", True, 2)])
    runs.append(summary("vertical", True, 2, 10.0, state="failed"))     # failed: not counted
    runs.append(from_parts("broken", "runs/broken", None, {"state": "finished"}, None))  # no cell
    report = effects.grid_effects(runs, "g")
    tied = pick(report, toggle="tie_weights")
    # Pairs (placement, seed) with both sides: 95-100, 97-104, 84-90 = -5, -7, -6; vertical false seed 2 is left out.
    expected = stats.paired([-5.0, -7.0, -6.0])
    assert (tied["method"], tied["n"], tied["left_out"], tied["over"]) == (
        "paired", 3, 1, "seeds and other toggles' values")
    assert (tied["estimate"], tied["low"], tied["high"]) == pytest.approx(
        (-6.0, expected["low"], expected["high"]))
    both = pick(report, toggles=["dropout_placement", "tie_weights"])
    assert (both["method"], both["n"], both["left_out"]) == ("paired", 1, 3)   # seed 1 alone has all four corners
    assert both["estimate"] == pytest.approx((84.0 - 90.0) - (95.0 - 100.0)) and both["low"] is None
    assert report["finished"] == 7 and report["runs"] == 9 and len(report["cells"]) == 4 and report["missing"] == []


def test_sides_whose_seeds_never_match_fall_back_to_welch_within_the_shared_combinations():
    values = {("none", False, 1): 100.0, ("none", False, 2): 104.0, ("none", True, 3): 95.0, ("none", True, 4): 97.0,
              ("vertical", True, 3): 80.0}
    tied = pick(effects.grid_effects(grid(values), "g"), toggle="tie_weights")
    expected = stats.welch([100.0, 104.0], [95.0, 97.0])            # placement=none only: vertical has one side
    assert tied["method"] == "welch" and tied["left_out"] == 1 and tied["over"] == "seeds"
    assert (tied["estimate"], tied["low"], tied["high"]) == pytest.approx(
        (expected["estimate"], expected["low"], expected["high"]))
    # Two combinations that share nothing: no estimate rather than a confounded one.
    crossed = {("none", False, 1): 100.0, ("vertical", True, 1): 90.0}
    report = effects.grid_effects(grid(crossed), "g")
    assert [r["estimate"] for r in report["effects"]] == [None] * 6


# The QA's 2x2: dropout_placement none/vertical x dropout 0.2/0.5, one seed. With placement none,
# dropout trains the same model (equal results); vertical at 0.2 scored 116.5 against 111.2 for none.
DROPOUT = {("none", 0.2): 111.2, ("none", 0.5): 111.2, ("vertical", 0.2): 116.5, ("vertical", 0.5): 123.36}


def dropout_grid(drop=()):
    runs = []
    for (placement, dropout), best in DROPOUT.items():
        if (placement, dropout) in drop:
            continue
        config = {"dropout_placement": placement, "dropout": dropout, "seed": 1, "group": "g", "layers": 1,
                  "name": f"dropout={dropout} placement={placement}"}
        status = {"state": "finished", "best_val_ppl": best, "test_ppl": best - 3.0, "final_val_ppl": best + 1.0}
        runs.append(from_parts(f"{placement}-{dropout}", "runs/x", config, status, None))
    return runs


def test_a_deleted_run_is_named_missing_and_leaves_the_effects_paired():
    """QA: with dropout=0.2 placement=none deleted, the report said 'dropout_placement changed nothing
    in the cells with dropout=0.2' (one placement left there: nothing compared) and the dropout
    effect became an unpaired +0.8 that pitted the placement=none cell against vertical."""
    whole = effects.grid_effects(dropout_grid(), "g")
    assert pick(whole, toggle="dropout")["estimate"] == pytest.approx(3.43)          # (0 + 6.86) / 2, paired
    assert whole["missing"] == []
    report = effects.grid_effects(dropout_grid(drop=[("none", 0.2)]), "g")
    assert [m["label"] for m in report["missing"]] == ["dropout=0.2 placement=none"]
    assert report["inert"] == []          # no toggle called inert for want of a combination
    dropout = pick(report, toggle="dropout")
    assert (dropout["method"], dropout["n"], dropout["left_out"]) == ("paired", 1, 1)
    assert dropout["estimate"] == pytest.approx(123.36 - 116.5)                      # placement=vertical only
    placement = pick(report, toggle="dropout_placement")
    assert (placement["n"], placement["estimate"]) == (1, pytest.approx(123.36 - 111.2))   # at dropout=0.5
    assert pick(report, toggles=["dropout", "dropout_placement"])["estimate"] is None      # a corner is gone


def test_one_seed_per_cell_says_its_interval_is_over_the_other_toggles_and_noise_is_unmeasured():
    values = {("none", 0.2): 111.2, ("none", 0.5): 114.0, ("none", 0.65): 113.0,
              ("vertical", 0.2): 116.5, ("vertical", 0.5): 118.0, ("vertical", 0.65): 119.4}
    runs = [from_parts(f"{p}-{d}", "runs/x", {"dropout_placement": p, "dropout": d, "seed": 1, "group": "g"},
                       {"state": "finished", "best_val_ppl": best}, None) for (p, d), best in values.items()]
    report = effects.grid_effects(runs, "g")
    placement = pick(report, toggle="dropout_placement")
    assert placement["n"] == 3 and placement["over"] == "other toggles' values" and placement["low"] is not None
    assert report["noise"].startswith("No cell has finished runs with more than one seed, so seed-to-seed noise "
                                      "was not measured: a difference may be noise. Each interval is over the "
                                      "other toggles' values")
    assert report["noise"].endswith("Queue the grid with 3 or more seeds per cell to measure it.")
    # dropout has three values here, so the method says how their intervals are adjusted; a grid of
    # two-valued toggles does not (QA round 21: its text had changed for nothing)
    assert report["method"] == stats.METHOD + " " + stats.FAMILY_METHOD + " " + report["noise"]
    seeded = effects.grid_effects(grid(), "g")
    assert seeded["noise"] is None and seeded["method"] == stats.METHOD
    assert pick(seeded, toggle="tie_weights")["over"] == "seeds and other toggles' values"


def test_one_seed_gives_no_interval_where_there_is_one_difference():
    report = effects.grid_effects(grid({k: v for k, v in BEST.items() if k[2] == 1}), "g")
    interaction = pick(report, toggles=["dropout_placement", "tie_weights"])
    assert interaction["n"] == 1 and interaction["low"] is None and interaction["verdict"] == "no interval"
    # Two pairs (one per placement) still make an interval for the main effect, with df 1.
    assert pick(report, toggle="tie_weights")["df"] == 1
    cell = report["cells"][0]
    assert cell["best_val"]["n"] == 1 and cell["best_val"]["sd"] is None and cell["best_val"]["low"] is None


def test_three_placements_compare_each_with_the_first_and_with_each_other():
    values = {(placement, True, seed): 90.0 + rank * 2 + seed
              for rank, placement in enumerate(["variational", "none", "vertical"]) for seed in (1, 2, 3)}
    report = effects.grid_effects(grid(values), "g")
    rows = [r for r in report["effects"] if r["metric"] == "best_val"]
    assert [(r["reference"], r["level"]) for r in rows] == [("none", "vertical"), ("none", "variational"),
                                                            ("vertical", "variational")]
    assert [r["estimate"] for r in rows] == pytest.approx([2.0, -2.0, -4.0])
    assert all(r["low"] == r["high"] for r in rows)                  # identical differences: no spread
    assert [r["confidence"] for r in rows] == pytest.approx([1 - 0.05 / 3] * 3)
    assert report["interactions"] == []


def placement_runs(best: dict) -> list:
    """A grid of placement alone (dropout 0.5) from {(placement, seed): best validation}."""
    return [from_parts(f"{p}-{seed}", "runs/x", {"dropout_placement": p, "dropout": 0.5, "seed": seed, "group": "g"},
                       {"state": "finished", "best_val_ppl": v, "final_val_ppl": v + 1.0, "test_ppl": v - 1.0}, None)
            for (p, seed), v in best.items()]


# 3 placements x 2 seeds. Differences per seed: vertical - none -10, -9.8; variational - none -15, -14.6;
# variational - vertical -5, -4.8. With two pairs the se is half the gap between the two differences.
THREE = {("none", 1): 100.0, ("none", 2): 110.0, ("vertical", 1): 90.0, ("vertical", 2): 100.2,
         ("variational", 1): 85.0, ("variational", 2): 95.4}
# Three comparisons at 1 - 0.05/3 each (Bonferroni): t(1 - 0.05/6, df 1) = tan(pi (0.5 - 0.05/6)) = 38.188.
T_FAMILY = 38.188


def test_two_values_other_than_the_first_are_compared_with_each_other_over_paired_seeds():
    report = effects.grid_effects(placement_runs(THREE), "g")
    between = pick(report, toggle="dropout_placement", reference="vertical", level="variational")
    # -5 and -4.8: mean -4.9, se 0.1, half 3.8188
    assert (between["n"], between["method"], between["over"], between["df"]) == (2, "paired", "seeds", 1)
    assert (between["estimate"], between["low"], between["high"]) == pytest.approx(
        (-4.9, -4.9 - T_FAMILY * 0.1, -4.9 + T_FAMILY * 0.1), abs=1e-3)
    assert between["verdict"] == "lower" and between["confidence"] == pytest.approx(0.98333, abs=1e-5)
    first = pick(report, toggle="dropout_placement", level="variational", reference="none")
    assert (first["estimate"], first["low"]) == pytest.approx((-14.8, -14.8 - T_FAMILY * 0.2), abs=1e-3)
    assert stats.family_confidence(1) == stats.CONFIDENCE       # a two-valued toggle keeps its 95% interval


def test_the_value_lower_than_every_other_is_named_best_with_its_margins():
    report = effects.grid_effects(placement_runs(THREE), "g")
    best = report["best"][0]
    assert (best["toggle"], best["metric"], best["best"]) == ("dropout_placement", "best_val", "variational")
    assert best["candidates"] == ["variational"]
    # vs vertical 4.9 +- 3.82; vs none 14.8 +- 7.64 (se 0.2); the closer one first
    assert best["text"] == ("Best placement by best validation perplexity: variational (lower than vertical by "
                            "4.9 [1.1, 8.7], than none by 14.8 [7.2, 22.4]; 98.3% intervals)")
    assert [item["metric"] for item in report["best"]] == ["best_val", "final_val", "test"]


def test_no_value_is_best_where_two_are_within_noise_after_the_adjustment():
    """variational - vertical -5, -4.6: mean -4.8, se 0.2. Alone at 95% (t 12.706) that is [-7.34, -2.26],
    'lower'; as one of three comparisons (t 38.188) it is [-12.44, +2.84]: within noise."""
    report = effects.grid_effects(placement_runs({**THREE, ("variational", 2): 95.6}), "g")
    between = pick(report, toggle="dropout_placement", reference="vertical", level="variational")
    assert (between["low"], between["high"]) == pytest.approx((-4.8 - T_FAMILY * 0.2, -4.8 + T_FAMILY * 0.2),
                                                              abs=1e-3)
    assert between["verdict"] == "within noise" and stats.paired([-5.0, -4.6])["high"] < 0
    best = report["best"][0]
    assert best["best"] is None and best["candidates"] == ["variational", "vertical"]
    assert best["text"] == ("No clear best placement by best validation perplexity: variational and vertical "
                            "within noise of each other")


def test_a_two_valued_toggle_gets_no_best_line_and_no_adjustment():
    report = effects.grid_effects(grid(), "g")
    assert report["best"] == [] and pick(report, toggle="tie_weights")["confidence"] == stats.CONFIDENCE


def write_run(root, name, config, status, metrics):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "status.json").write_text(json.dumps(status))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in metrics) + '{"kind": "va')
    return folder


def test_final_validation_and_best_epoch_come_from_the_run_summaries(tmp_path):
    lines = [{"kind": "train", "epoch": 1, "ppl": 300.0}, {"kind": "val", "epoch": 1, "ppl": 120.0},
             {"kind": "val", "epoch": 2, "ppl": 90.0}, {"kind": "val", "epoch": 3, "ppl": 135.0},
             {"kind": "test", "epoch": 3, "ppl": 88.0}]
    for seed in (1, 2):
        write_run(tmp_path, f"run-{seed}", {"seed": seed, "group": "g", "dropout": 0.0},
                  {"state": "finished", "best_val_ppl": 90.0, "test_ppl": 88.0}, lines)
    runs = list_runs(tmp_path)
    assert {k: effects.observations(runs, [])[0][k] for k in ("best_val", "final_val", "best_epoch", "test")} == {
        "best_val": 90.0, "final_val": 135.0, "best_epoch": 2, "test": 88.0}
    report = effects.grid_effects(runs, "g")
    assert report["toggles"] == [] and report["effects"] == []
    assert report["cells"][0]["final_val"]["mean"] == 135.0 and report["cells"][0]["best_epoch"]["mean"] == 2
    json.dumps(report, allow_nan=False)                                # plain JSON all the way
    assert not math.isnan(report["cells"][0]["best_val"]["sd"])


def test_a_toggle_with_no_way_to_act_reads_so_not_within_noise():
    """Placement none vs vertical with dropout 0: the cells train the same model, so the identical
    results (the QA's 80.39/82.77 in both) must not read as 'within noise'."""
    values = {(placement, tied, seed): 90.0 + seed + (0.0 if tied else 4.0)
              for placement in ("none", "vertical") for tied in (False, True) for seed in (1, 2)}
    runs = [summary(*key, best) for key, best in values.items()]
    runs = [from_parts(s.id, s.path, {**s.config, "dropout": 0.0}, s.status, None) for s in runs]
    report = effects.grid_effects(runs, "g")
    assert [(f["toggle"], f["kind"]) for f in report["inert"]] == [("dropout_placement", "everywhere")]
    placement = pick(report, toggle="dropout_placement")
    assert placement["estimate"] == 0.0 and placement["verdict"] == effects.INERT == "no way to act"
    assert pick(report, toggles=["dropout_placement", "tie_weights"])["verdict"] == effects.INERT
    assert pick(report, toggle="tie_weights")["verdict"] == "lower"          # the other toggle acts
    json.dumps(report, allow_nan=False)
    assert effects.grid_effects(grid(), "g")["inert"] == []                   # dropout 0.5: it acts


def test_epochs_read_whole():
    assert [effects.epoch_text(v) for v in (1, 1.0, 2.5, 4 / 3, None)] == ["1", "1", "2.5", "1.3", "—"]


# QA round 19 (grid-87a108's shape): vertical costs about +11 untied and +40 tied, seeds agreeing within a
# point or two. Pooled over both, the four pairs +10, +12, +39, +41 give [-0.8, +51.8]: "within noise", blamed
# on seeds, while at each value of tying the change is clearly up.
DEPENDS = {("none", False, 1): 127.0, ("none", False, 2): 127.4, ("none", True, 1): 130.0, ("none", True, 2): 131.8,
           ("vertical", False, 1): 137.0, ("vertical", False, 2): 139.4,
           ("vertical", True, 1): 169.0, ("vertical", True, 2): 172.8}


def test_an_effect_that_differs_with_the_other_toggle_is_given_at_each_value_over_seeds():
    report = effects.grid_effects(grid(DEPENDS), "g")
    vertical = pick(report, toggle="dropout_placement")
    # pairs +10.0, +12.0 untied; +39.0, +41.0 tied: mean 25.5, its interval reaches below 0
    assert vertical["estimate"] == pytest.approx(25.5) and vertical["low"] < 0 < vertical["high"]
    untied, tied = vertical["by"]
    assert untied["where"] == {"tie_weights": "false"} and tied["where"] == {"tie_weights": "true"}
    # each over two seeds: mean 11 and 40, sd sqrt(2), se 1, t(1) 12.706
    assert (untied["estimate"], untied["low"], untied["high"]) == pytest.approx((11.0, -1.706, 23.706), abs=1e-3)
    assert (untied["n"], untied["method"], untied["over"]) == (2, "paired", "seeds")
    assert untied["verdict"] == "within noise" and tied["verdict"] == "higher"
    # two seeds cannot tell the untied change from none, so the pooled verdict stands; the note gives both
    assert vertical["verdict"] == vertical["pooled_verdict"] == "within noise"
    assert vertical["note"] == ("at each value of the other toggles (each over seeds): +11.00 [-1.71, +23.71] within "
                                "noise at tied=false; +40.00 [+27.29, +52.71] higher at tied=true")


def test_one_way_at_every_value_of_the_other_toggle_is_the_verdict_and_the_note_says_why():
    wide = {**DEPENDS, ("vertical", False, 2): 137.8}                # untied pairs +10.0, +10.4: clearly up
    report = effects.grid_effects(grid(wide), "g")
    vertical = pick(report, toggle="dropout_placement")
    assert vertical["low"] < 0 and vertical["pooled_verdict"] == "within noise"
    assert [row["verdict"] for row in vertical["by"]] == ["higher", "higher"]
    assert vertical["verdict"] == "higher" and effects.verdict_text(vertical) == "higher at each"
    assert vertical["note"] == ("higher at every value of the other toggles (each over seeds): +10.20 [+7.66, +12.74] "
                                "higher at tied=false; +40.00 [+27.29, +52.71] higher at tied=true; the pooled "
                                "interval spans the difference between them, not seed noise")
    tied = pick(report, toggle="tie_weights")          # +3.0, +4.4 at none (within noise); +32, +35 at vertical
    assert tied["verdict"] == "within noise" and tied["note"].startswith("at each value of the other toggles")


def test_a_pair_of_opposite_changes_says_so_and_one_seed_gives_no_note():
    opposite = {**DEPENDS, ("vertical", True, 1): 120.0, ("vertical", True, 2): 121.6}   # tied: -10.0, -10.2
    wide = {**opposite, ("vertical", False, 2): 137.8}
    vertical = pick(effects.grid_effects(grid(wide), "g"), toggle="dropout_placement")
    assert vertical["verdict"] == "within noise" and vertical["note"].startswith("opposite ways at different values")
    single = {key: value for key, value in wide.items() if key[2] == 1}
    assert pick(effects.grid_effects(grid(single), "g"), toggle="dropout_placement")["note"] is None


def test_two_runs_of_one_seed_in_a_cell_count_once_and_are_named():
    """QA round 19: a copy of a seed-1 run joined its grid; the cell read n=3 with two identical runs and a
    narrower sd. A seed counts once (the mean of its runs) in the cell and its pairs, and the report says so."""
    runs = grid() + [from_parts("copy", "runs/x", {**grid()[4].config}, {**grid()[4].status}, None)]
    report = effects.grid_effects(runs, "g")
    cell = next(c for c in report["cells"] if c["label"] == "placement=vertical tied=false")
    assert len(cell["runs"]) == 3 and cell["seeds"] == 2 and cell["best_val"]["n"] == 2
    assert cell["best_val"]["mean"] == pytest.approx(93.0)                       # 90 (twice) and 96: seeds 1, 2
    assert report["repeated_seeds"] == [{"label": "placement=vertical tied=false", "seed": 1, "runs": 2}]
    assert effects.repeated_text(report["repeated_seeds"]).startswith(
        "seed 1 of placement=vertical tied=false has 2 finished runs. A seed counts once")
    assert pick(report, toggle="tie_weights")["n"] == 4                         # pairs as before: no fifth


def test_a_finished_run_worse_than_guessing_is_counted_and_named():
    """QA round 19: a run that finished at 7,061 with 2,000 words was averaged in silently ('tying lowers
    perplexity by 3,378.70'), where a diverged run is left out and named."""
    runs = grid()
    bad = runs[4]
    runs[4] = dataclasses.replace(from_parts(bad.id, "runs/x", bad.config, {**bad.status, "best_val_ppl": 7060.6},
                                             None), vocab_size=2000)
    report = effects.grid_effects(runs, "g")
    assert report["failed_training"] == [{"id": bad.id, "name": bad.name, "note": runs[4].guessing_note}]
    text = effects.failed_training_text(report["failed_training"])
    assert text.startswith("1 finished run did worse than guessing uniformly among its words (placement=vertical "
                           "tied=false seed=1: its best validation perplexity, 7,061, is above 2,000")
    assert report["finished"] == 8                                   # still counted: the toggle may have done it
