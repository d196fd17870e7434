"""lmcore.ablation: grids as cartesian products over a base config, cells and their levels."""

import pytest

from lmcore import ablation
from lmcore.config import Config, ConfigError
from lmcore.presets import PRESETS, resolve
from lmcore.summaries import from_parts


@pytest.fixture
def base():
    return resolve("tiny", overrides={"max_steps": 3})


def test_grid_is_the_cartesian_product_sharing_one_group(base):
    configs = ablation.grid(base, {"dropout_placement": ["none", "vertical"], "tie_weights": [False, True],
                                   "layers": ["2"]}, group="grid-test")
    assert len(configs) == 4 == ablation.size({"dropout_placement": ["none", "vertical"],
                                               "tie_weights": [False, True], "layers": ["2"]})
    assert {c.group for c in configs} == {"grid-test"}
    assert [(c.dropout_placement, c.tie_weights) for c in configs] == [
        ("none", False), ("none", True), ("vertical", False), ("vertical", True)]
    assert all(c.layers == 2 and isinstance(c.layers, int) for c in configs)    # "2" coerced
    assert configs[1].name == "placement=none tied=true layers=2"
    assert all(c.max_steps == 3 and c.preset == "tiny" for c in configs)         # the base is kept


def test_empty_and_repeated_values(base):
    configs = ablation.grid(base, {"tie_weights": [True, True, "true"], "dropout": []})
    assert len(configs) == 1 and configs[0].tie_weights is True and configs[0].dropout == base.dropout
    assert configs[0].group.startswith("grid-")
    assert ablation.size({"tie_weights": [True, True], "dropout": []}) == 1
    assert ablation.size({}) == 1


def test_every_invalid_combination_is_reported_at_once():
    base = Config(dataset="synthetic", embed_size=100, hidden_size=200, tie_weights=False)
    with pytest.raises(ConfigError) as caught:
        ablation.grid(base, {"tie_weights": [False, True], "dropout": [0.2, 0.5]})
    problems = caught.value.problems
    assert len(problems) == 2 and all(p.startswith("tied=true dropout=") and "embed_size" in p for p in problems)
    with pytest.raises(ConfigError, match="layers"):
        ablation.grid(base, {"layers": ["two"]})


def test_levels_order_numbers_numerically_and_choices_as_declared():
    def run(run_id, **config):
        return from_parts(run_id, f"runs/{run_id}", config, {"state": "finished"}, None)

    assert ablation.levels([run(str(n), layers=n) for n in (10, 2, 1)], "layers") == ["1", "2", "10"]
    placements = [run(p, dropout_placement=p) for p in ("variational", "none", "vertical")]
    assert ablation.levels(placements, "dropout_placement") == ["none", "vertical", "variational"]
    assert ablation.levels([run("t", tie_weights=True), run("f", tie_weights=False)], "tie_weights") == [
        "false", "true"]


def test_seeds_repeat_every_cell_with_consecutive_seeds(base):
    toggles = {"dropout_placement": ["none", "variational"], "tie_weights": [False, True]}
    configs = ablation.grid(base, toggles, group="g", seeds=3)
    assert len(configs) == 12 == ablation.size(toggles, seeds=3)
    assert [c.seed for c in configs[:3]] == [base.seed, base.seed + 1, base.seed + 2]
    assert configs[5].name == f"placement=none tied=true seed={base.seed + 2}"
    assert len({c.name for c in configs}) == 12
    with pytest.raises(ConfigError, match="seeds"):
        ablation.grid(base, toggles, seeds=0)
    with pytest.raises(ConfigError, match="seed"):
        ablation.grid(base, {"seed": [1, 2]}, seeds=2)


@pytest.mark.parametrize("key, values", [("seed", [1, 2]), ("group", ["a", "b"]), ("name", ["x", "y"])])
def test_a_key_the_grid_sets_itself_cannot_be_a_toggle(base, key, values):
    """QA: group and name crashed in Config.replace (the key given twice); seed with one seed per cell
    queued runs whose effects read 'toggles: none' with an empty cell label. Refused, with one seed too."""
    with pytest.raises(ConfigError) as caught:
        ablation.grid(base, {key: values, "tie_weights": [False, True]})
    assert caught.value.problems == [f"{key}: {ablation.SET_BY_GRID[key]}"]
    assert "--seeds N" in ablation.SET_BY_GRID["seed"]


def test_cells_are_the_toggled_values_whatever_the_seed(base):
    configs = ablation.grid(base, {"dropout_placement": ["variational", "none"], "tie_weights": [True, False]},
                            seeds=2)
    summaries = [from_parts(str(i), f"runs/{i}", c.to_dict(), {"state": "queued"}, None)
                 for i, c in enumerate(configs)]
    summaries.append(from_parts("broken", "runs/broken", None, {"state": "queued"}, None))
    assert ablation.toggles([s.config for s in summaries]) == ["dropout_placement", "tie_weights"]
    assert ablation.cell_of(summaries[0], ["dropout_placement", "tie_weights"]) == {
        "dropout_placement": "variational", "tie_weights": "true"}
    found = ablation.cells(summaries)
    # Natural order: none (the reference placement) before variational, false before true.
    assert [entry["label"] for entry in found] == ["placement=none tied=false", "placement=none tied=true",
                                                   "placement=variational tied=false",
                                                   "placement=variational tied=true"]
    assert all(len(entry["runs"]) == 2 for entry in found)
    assert {s.config["seed"] for s in found[0]["runs"]} == {base.seed, base.seed + 1}


# ---------------------------------------------------------------- settings and toggles that cannot act


def inert(base, toggles):
    return ablation.inert_toggles([c.to_dict() for c in ablation.grid(base, toggles, seeds=2)])


def test_a_placement_without_dropout_cannot_act_and_says_how_to_make_it(base):
    """The QA grid: tiny (dropout 0) varying placement none, variational came out identical."""
    found = inert(base, {"dropout_placement": ["none", "variational"]})
    assert [(f["toggle"], f["kind"]) for f in found] == [("dropout_placement", "everywhere")]
    text = ablation.inert_text(found[0])
    assert text.startswith("dropout_placement cannot change anything in this grid: "
                           "dropout_placement=variational does nothing while dropout is 0.")
    assert text.endswith("To make it count: set dropout > 0 in the overrides, or vary it too.")
    assert "had no way to act" in ablation.inert_text(found[0], trained=True)
    assert inert(base.replace(dropout=0.5), {"dropout_placement": ["none", "variational"]}) == []
    # Varying dropout too lets the placement act where dropout > 0: idle only in those cells.
    both = inert(base, {"dropout_placement": ["none", "variational"], "dropout": [0.0, 0.5]})
    assert [(f["toggle"], f["kind"], f["where"]) for f in both] == [
        ("dropout", "cells", ["placement=none"]), ("dropout_placement", "cells", ["dropout=0.0"])]


def test_a_missing_combination_makes_no_toggle_inert(base):
    """QA: with the run of dropout=0.2 placement=none deleted, 'dropout_placement changed nothing in
    the cells with dropout=0.2': vertical was the only placement left there, so nothing was compared."""
    configs = [c.to_dict() for c in ablation.grid(base, {"dropout_placement": ["none", "vertical"],
                                                         "dropout": [0.2, 0.5]})]
    kept = [c for c in configs if (c["dropout_placement"], c["dropout"]) != ("none", 0.2)]
    found = ablation.inert_toggles(configs)
    assert [(f["toggle"], f["kind"], f["where"]) for f in found] == [("dropout", "cells", ["placement=none"])]
    assert ablation.inert_toggles(kept) == []           # placement=none holds one dropout now: nothing compared
    # QA round 7: with vertical at 0.5 deleted instead, the only dropout pair left is in placement=none,
    # where dropout is idle; that is those cells, not "no way to act in this grid".
    other = [c for c in configs if (c["dropout_placement"], c["dropout"]) != ("vertical", 0.5)]
    found = ablation.inert_toggles(other)
    assert [(f["toggle"], f["kind"], f["where"]) for f in found] == [("dropout", "cells", ["placement=none"])]
    # Two placements that never share a combination are not twins either (they were, vacuously).
    diagonal = [c.to_dict() for c in ablation.grid(base.replace(dropout=0.5), {
        "dropout_placement": ["vertical", "horizontal"], "tie_weights": [False, True]})]
    diagonal = [c for c in diagonal if (c["dropout_placement"] == "vertical") != c["tie_weights"]]
    assert ablation.inert_toggles(diagonal) == []


def test_missing_cells_are_the_combinations_no_run_holds(base):
    configs = ablation.grid(base, {"dropout_placement": ["none", "vertical"], "dropout": [0.2, 0.5]}, seeds=2)
    runs = [from_parts(f"r{i}", "runs/x", c.to_dict(), {"state": "finished"}, None) for i, c in enumerate(configs)]
    assert ablation.missing_cells(runs) == []
    kept = [r for r in runs if (r.config["dropout_placement"], r.config["dropout"]) != ("none", 0.2)]
    assert ablation.missing_cells(kept) == [{"cell": {"dropout": "0.2", "dropout_placement": "none"},
                                            "label": "dropout=0.2 placement=none"}]
    assert ablation.missing_cells(kept[1:]) == ablation.missing_cells(kept)   # one seed of a cell is no cell


def test_dropout_without_a_placement_cannot_act(base):
    found = inert(base, {"dropout": [0.1, 0.5]})
    assert [(f["toggle"], f["kind"]) for f in found] == [("dropout", "everywhere")]
    assert "dropout=0.1 or 0.5 does nothing while dropout_placement is none" in ablation.inert_text(found[0])
    assert inert(base.replace(dropout_placement="vertical"), {"dropout": [0.1, 0.5]}) == []


def test_two_values_that_train_alike_are_named_with_the_rule(base):
    """Horizontal adds only the recurrent path: with dropout_recurrent 0 it is vertical."""
    found = inert(base.replace(dropout=0.5, dropout_recurrent=0.0),
                  {"dropout_placement": ["none", "vertical", "horizontal"], "tie_weights": [False, True]})
    assert [(f["toggle"], f["kind"], f["levels"]) for f in found] == [
        ("dropout_placement", "levels", ["vertical", "horizontal"])]
    assert found[0]["reasons"] == ["dropout_placement=horizontal trains as vertical while dropout_recurrent is 0 "
                                   "(the recurrent path is all it adds)"]


def test_other_settings_only_one_value_of_another_key_reads(base):
    assert inert(base, {"init_range": [0.05, 0.1]})[0]["reasons"] == [
        "init_range=0.05 does nothing while init is torch (only init=uniform reads it)"]   # 0.1: the default
    assert inert(base.replace(init="uniform"), {"init_range": [0.05, 0.1]}) == []
    assert [f["toggle"] for f in inert(base, {"lr_decay": [0.25, 0.5], "decay_start": [0, 2]})] == [
        "lr_decay", "decay_start"]                                        # tiny's schedule is constant
    assert inert(base, {"data_seed": [0, 1]})[0]["kind"] == "everywhere"  # PTB is not generated
    assert inert(base, {"tie_weights": [False, True], "layers": [1, 2], "lr": [0.001, 0.004]}) == []


def test_inert_settings_of_one_config():
    assert ablation.inert_settings(Config(dropout_placement="variational", dropout=0.0)) == [
        "dropout_placement=variational does nothing while dropout is 0"]
    lines = ablation.inert_settings(Config(dropout_placement="none", dropout=0.5, dropout_recurrent=0.2,
                                           device="cpu", amp="bf16"))
    assert lines == ["dropout=0.5 does nothing while dropout_placement is none",
                     "dropout_recurrent=0.2 does nothing while dropout_placement is none (only horizontal "
                     "and variational drop the recurrent path)",
                     "amp=bf16 does nothing while device is cpu (bf16 autocast is for CUDA only)"]
    assert ablation.inert_settings(Config(dropout_placement="variational", dropout=0.0,
                                          dropout_recurrent=0.25)) == []     # the recurrent path acts
    for name, preset in PRESETS.items():                                  # the shipped recipes waste nothing
        assert ablation.inert_settings(preset.config()) == [], name


def test_inert_everywhere_is_what_no_cell_lets_act(base):
    cells = [c.to_dict() for c in ablation.grid(base.replace(dropout_placement="variational"),
                                                 {"tie_weights": [False, True]})]
    assert ablation.inert_everywhere(cells) == ["dropout_placement=variational does nothing while dropout is 0"]
    mixed = [c.to_dict() for c in ablation.grid(base.replace(dropout=0.5), {"dropout_placement": ["none", "vertical"]})]
    assert ablation.inert_everywhere(mixed) == []     # dropout acts in the vertical cells


def test_the_plan_is_every_cell_with_every_seed_and_a_deleted_seed_is_missing(base):
    """QA round 10: a cell that lost one of its two seeds' runs read as complete."""
    configs = ablation.grid(base, {"dropout_placement": ["vertical", "variational"], "dropout": [0.2, 0.5]}, seeds=2)
    runs = [from_parts(f"r{i}", "runs/x", c.to_dict(), {"state": "finished"}, None) for i, c in enumerate(configs)]
    assert ablation.seeds(runs) == [str(base.seed), str(base.seed + 1)]
    assert ablation.planned_runs(runs) == 8 and ablation.missing_seeds(runs) == []
    gone = next(r for r in runs if (r.config["dropout"], r.config["dropout_placement"], r.config["seed"])
                == (0.5, "variational", base.seed + 1))
    kept = [r for r in runs if r is not gone]
    assert ablation.planned_runs(kept) == 8
    assert ablation.missing_seeds(kept) == [{"cell": {"dropout": "0.5", "dropout_placement": "variational"},
                                             "label": "dropout=0.5 placement=variational",
                                             "seeds": [str(base.seed + 1)]}]
    whole_cell = [r for r in kept if r.config["dropout"] != 0.5 or r.config["dropout_placement"] != "variational"]
    assert ablation.planned_runs(whole_cell) == 8 and ablation.missing_seeds(whole_cell) == []   # missing_cells'
    assert ablation.planned_runs([]) == 0
