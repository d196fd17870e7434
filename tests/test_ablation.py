"""lmcore.ablation: grids as cartesian products over a base config, cells and their levels."""

import pytest

from lmcore import ablation
from lmcore.config import Config, ConfigError
from lmcore.presets import resolve
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
