"""explorer.compare: the runs table, filters, CSV, config diffs and grid summaries,
over run summaries built from hand-made files (lmcore.summaries.from_parts, as list_runs does)."""

import csv
import io

import pandas as pd
import pytest

from explorer import compare
from lmcore.presets import PRESETS
from lmcore.summaries import from_parts

BASE = dict(dataset="ptb", preset="tiny", layers=1, hidden_size=256, embed_size=256, dropout=0.0,
            dropout_placement="none", tie_weights=False, optimizer="adam", lr=0.004, epochs=8, max_steps=None,
            group="", lmcore_version="0.1")


def summary(run_id, name="", state="finished", best=None, test=None, params=1000, status=None, **config):
    status = {"state": state, "step": 10, "total_steps": 40, "best_val_ppl": best, "test_ppl": test,
              "started_at": 1000.0, "finished_at": 1060.5 if state == "finished" else None,
              "updated_at": 1030.0, "tokens_per_s": 5000.0, "elapsed": 42.5, **(status or {})}
    return from_parts(run_id, f"/runs/{run_id}", {**BASE, "name": name, **config}, status, {"total": params})


def broken(run_id):
    return from_parts(run_id, f"/runs/{run_id}", None, {"state": "queued"}, None)


@pytest.fixture
def table():
    return compare.runs_table([
        summary("20260101-000003-c", "alpha", best=90.123, test=95.5),
        summary("20260101-000002-b", "beta", state="running", dropout=0.5, dropout_placement="variational"),
        summary("20260101-000001-a", "gamma", dataset="synthetic", preset="synthetic", group="grid-1", best=30.0),
        broken("20260101-000000-x"),
    ])


def test_table_has_one_row_per_run_with_scores_and_config(table):
    assert list(table.columns) == list(compare.COLUMNS)
    assert list(table["name"]) == ["alpha", "beta", "gamma", "20260101-000000-x"]
    alpha = table.iloc[0]
    assert alpha["best_val_ppl"] == pytest.approx(90.123) and alpha["test_ppl"] == pytest.approx(95.5)
    assert alpha["state"] == "finished" and alpha["progress"] == 1.0
    assert alpha["training_seconds"] == 42.5          # status `elapsed`: training time, not the wall clock
    assert alpha["layers"] == 1 and alpha["hidden_size"] == 256 and alpha["params"] == 1000
    assert table.iloc[1]["progress"] == pytest.approx(0.25) and table.iloc[1]["dropout_placement"] == "variational"
    assert table.iloc[2]["group"] == "grid-1"


def test_broken_runs_are_rows_marked_broken(table):
    row = table.iloc[3]
    assert row["state"] == "broken" and "config.json" in row["note"]
    assert pd.isna(row["layers"]) and pd.isna(row["best_val_ppl"]) and pd.isna(row["preset"])


def test_repeated_names_get_the_ids_tail_in_the_table_legend_and_diff():
    runs = [summary(f"2026-book-{tail}", "book", seed=seed) for tail, seed in (("aaaa", 1), ("bbbb", 2))]
    runs.append(summary("2026-tiny-cccc", "tiny"))
    table = compare.runs_table(runs)
    assert list(table["label"]) == ["book · aaaa", "book · bbbb", "tiny"]
    assert list(table["name"]) == ["book", "book", "tiny"]            # the CSV keeps the plain name
    assert compare.unique_labels(runs) == list(table["label"])        # legends use the same function
    assert list(compare.config_diff(runs[:2]).columns) == ["book · aaaa", "book · bbbb"]
    assert list(compare.filter_table(table, text="bbbb")["label"]) == ["book · bbbb"]


def test_a_right_to_left_name_is_isolated_where_the_ids_tail_or_a_state_follows_it():
    """QA round 18, D5: "تجربة 2 · 9e25" drew as "9 · 2 تجربةe25" (the tail's digit joined the Arabic). The
    name is isolated (FSI ... PDI) in labels and select boxes; Latin names and the CSV stay as typed."""
    from explorer.textview import ISOLATE, POP_ISOLATE
    from ui import run_label

    runs = [summary(f"2026-x-{tail}", "تجربة 2") for tail in ("9e25", "cb36")] + [summary("2026-y-dddd", "tiny")]
    isolated = f"{ISOLATE}تجربة 2{POP_ISOLATE}"
    assert compare.unique_labels(runs) == [f"{isolated} · 9e25", f"{isolated} · cb36", "tiny"]
    assert run_label(runs[0]).startswith(f"✅ {isolated} · 9e25 · ") and run_label(runs[2]).startswith("✅ tiny · ")
    rows = compare.table_csv(compare.runs_table(runs)).splitlines()[1:]
    assert ISOLATE not in "".join(rows) and ",تجربة 2 · 9e25," in rows[0]


def test_a_long_label_is_cut_in_its_middle_so_what_tells_runs_apart_shows():
    # QA round 16: the run column cut "dropout=0.5 tied=true seed=2 · 9144" to "...seed=2 · 9…".
    labels = ["dropout=0.5 tied=true seed=2 · 9144", "dropout=0.5 tied=true seed=2 · 3b45",
              "placement=variational dropout=0.5 tied=true seed=1",
              "placement=variational dropout=0.5 tied=true seed=2"]
    shown = [compare.table_label(label) for label in labels]
    assert all(len(label) <= compare.TABLE_LABEL_ROOM for label in shown)
    assert shown[0].endswith("seed=2 · 9144") and shown[1].endswith("seed=2 · 3b45")
    assert shown[2].startswith("placement=") and shown[2].endswith("seed=1") and "…" in shown[2]
    assert len(set(shown)) == len(shown)
    assert compare.table_label("book · reference") == "book · reference"  # fits
    reference = "zaremba-medium · reference (NVIDIA H200)"  # its end is a remark: the column cuts it there
    assert compare.table_label(reference) == reference


def test_final_validation_best_epoch_and_the_step_cap_are_columns():
    capped = summary("r1", "capped", best=90.0, status={"final_val_ppl": 95.5, "best_epoch": 3, "step": 60,
                                                        "total_steps": 60}, epochs=8, max_steps=60)
    row = compare.runs_table([capped]).iloc[0]
    assert row["final_val_ppl"] == 95.5 and row["best_val_ppl"] == 90.0 and row["best_epoch"] == 3
    assert (row["epochs"], row["max_steps"], row["step"], row["total_steps"]) == (8, 60, 60, 60)
    text = compare.table_csv(compare.runs_table([capped]))
    line = next(csv.DictReader(io.StringIO(text)))
    assert line["max_steps"] == "60" and line["total_steps"] == "60" and line["final_val_ppl"] == "95.5"


def test_the_csv_keeps_a_diverged_perplexity_raw():
    diverged = summary("r1", "diverged", best=1.0142320540616806e304, status={"final_val_ppl": float("inf")})
    line = next(csv.DictReader(io.StringIO(compare.table_csv(compare.runs_table([diverged])))))
    assert float(line["best_val_ppl"]) == 1.0142320540616806e304 and line["final_val_ppl"] == "inf"


@pytest.mark.parametrize("filters,names", [
    ({}, ["alpha", "beta", "gamma", "20260101-000000-x"]),
    ({"states": ["finished"]}, ["alpha", "gamma"]),
    ({"states": ["broken", "running"]}, ["beta", "20260101-000000-x"]),
    ({"presets": ["synthetic"]}, ["gamma"]),
    ({"datasets": ["ptb"], "placements": ["none"]}, ["alpha"]),
    ({"text": "  ALP "}, ["alpha"]),
    ({"text": "grid-1"}, ["gamma"]),          # the grid id
    ({"text": "000002"}, ["beta"]),           # the run id
    ({"text": "nothing like it"}, []),
])
def test_filters(table, filters, names):
    assert list(compare.filter_table(table, **filters)["name"]) == names


def test_csv_has_every_column_unrounded_numbers_and_empty_missing_cells(table):
    text = compare.table_csv(compare.filter_table(table, states=["finished", "broken"]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(compare.COLUMNS)
    assert [r["name"] for r in rows] == ["alpha", "gamma", "20260101-000000-x"]
    assert float(rows[0]["best_val_ppl"]) == 90.123 and rows[0]["test_ppl"] == "95.5"
    assert rows[0]["started_at"].startswith(("1970-01-01T", "1969-12-31T"))
    assert rows[0]["tie_weights"] == "False" and rows[0]["layers"] == "1"
    assert rows[2]["state"] == "broken" and rows[2]["best_val_ppl"] == "" and rows[2]["layers"] == ""


def test_config_diff_shows_only_keys_that_differ():
    runs = [summary("r1", "plain"), summary("r2", "dropout", dropout=0.5, dropout_placement="vertical"),
            summary("r3", "deep", layers=2)]
    diff = compare.config_diff(runs)
    assert list(diff.index) == ["layers", "dropout", "dropout_placement"]  # config order; not `name`
    assert list(diff.columns) == ["plain", "dropout", "deep"]
    assert diff.loc["dropout"].tolist() == ["0", "0.5", "0"]
    assert diff.loc["layers"].tolist() == ["1", "1", "2"]


def test_a_forks_parent_shown_beside_it_reads_as_its_column_not_its_long_id():
    parent = summary("20261127-213855-tiny-dropout-a7bc", "parent")
    fork = summary("20261127-214500-fork-b1c2", "fork", dropout=0.0, parent=parent.id, fork_from="epoch:3",
                   fork_step=447)
    elsewhere = summary("20261127-215000-other-fork-c3d4", "other", parent="20261127-000000-gone-0000", fork_step=9)
    diff = compare.config_diff([parent, fork, elsewhere], ["#1", "#2", "#3"])
    assert diff.loc["parent"].tolist() == ["—", "#1", "20261127-000000-gone-0000"]   # one not shown keeps its id
    assert diff.loc["fork_step"].tolist() == ["—", "447", "9"]


def test_config_diff_edge_cases():
    same = [summary("r1", "a"), summary("r2", "b")]
    assert compare.config_diff(same).empty                       # only names differ
    assert compare.config_diff([summary("r1", "a")]).empty       # nothing to compare with
    twins = compare.config_diff([summary("x-aaaa", "same", seed=1), summary("x-bbbb", "same", seed=2)])
    assert list(twins.columns) == ["same · aaaa", "same · bbbb"] and list(twins.index) == ["seed"]
    assert compare.config_diff([summary("a", "a", tie_weights=True), summary("b", "b")]).loc[
        "tie_weights"].tolist() == ["true", "false"]
    # A key a config lacks (a run from before it existed) and an empty text read the same: "—".
    older = summary("old", "old", seed=2)
    assert "parent" not in older.config
    assert list(compare.config_diff([summary("new", "new", parent=""), older]).index) == ["seed"]


def test_a_key_an_older_run_never_recorded_reads_not_recorded_not_a_blank_or_its_default():
    """QA round 20: the book reference run (trained before cuda_graphs existed) read "—" beside a new run's
    auto; its default, auto, would claim graphs for a run that trained eagerly."""
    new, older = summary("new", "new", cuda_graphs="auto"), summary("old", "old")
    older.config.pop("cuda_graphs", None)
    diff = compare.config_diff([new, older])
    assert diff.loc["cuda_graphs"].tolist() == ["auto", compare.NOT_RECORDED]
    from ui.compare_runs import diff_caption
    assert "*not recorded*: that run's config.json lacks the key" in diff_caption(diff)



def test_a_run_without_a_config_is_left_out_of_the_diff_not_made_to_differ_everywhere():
    """QA: a broken folder beside two runs listed 42 keys as differing, every one '—' for it."""
    runs = [summary("r1", "plain"), summary("r2", "dropout", dropout=0.5), broken("r3")]
    diff = compare.config_diff(runs)
    assert list(diff.columns) == ["plain", "dropout"] and list(diff.index) == ["dropout"]
    assert compare.without_config(runs) == ["r3"] and compare.without_config(runs[:2]) == []
    assert compare.config_diff([summary("r1", "a"), broken("r2")]).empty          # nothing left to compare with

def test_each_floor_names_its_runs_and_runs_on_other_data_have_none():
    def synth(run_id, floor):
        return summary(run_id, dataset="synthetic", status={"floor_ppl": floor})

    runs = [synth("a", 20.5), summary("b", status={"floor_ppl": 20.5}), synth("c", 30.0), synth("d", 20.5),
            synth("e", None)]
    assert compare.floors(runs, ["A", "B", "C", "D", "E"]) == {20.5: ["A", "D"], 30.0: ["C"]}
    assert compare.floors([], []) == {}


def test_runs_on_other_data_or_vocabularies_are_said_not_comparable():
    ptb, tiny = dict(dataset="ptb"), dict(dataset="ptb", preset="tiny")
    assert compare.comparability_note([ptb, tiny], [10_000, 10_000]) is None
    assert compare.comparability_note([ptb, tiny], [10_000, None]) is None        # not known yet: no claim
    note = compare.comparability_note([ptb, tiny], [10_000, 2_000])
    assert note == ("Their perplexities are not comparable as numbers. Their vocabularies differ (2,000 vs 10,000 "
                    "words): fewer words to choose from make prediction easier, so compare the curves' shapes more "
                    "than their levels.")
    upload = dict(dataset="/runs/.uploads/" + "3f2a9c1e" * 8 + ".txt")           # its name was not kept
    note = compare.comparability_note([ptb, dict(dataset="synthetic", data_seed=3), upload], [10_000, 1_001, 18])
    assert "different data: PTB, the generated corpus (data seed 3) and an uploaded text 3f2a9c1e." in note
    assert "(18 vs 1,001 vs 10,000 words)" in note
    seeds = [dict(dataset="synthetic", data_seed=0), dict(dataset="synthetic", data_seed=1)]
    assert "(data seed 0) and the generated corpus (data seed 1)." in compare.comparability_note(seeds, [500, 500])
    other = compare.comparability_note([dict(dataset="/data/a.txt"), dict(dataset="/data/b.txt")], [50, 50])
    assert other.startswith("Their perplexities are not comparable as numbers. They train on different data: "
                            "text file a.txt and text file b.txt. A perplexity measured on another text")


def test_an_upload_is_named_as_it_came_and_two_uploads_of_one_name_are_two_texts(tmp_path):
    uploads = []
    for digit in "12":
        path = tmp_path / f"{digit * 64}.txt"
        path.write_text("a b c\n")
        path.with_suffix(".name").write_text("notes.txt")
        uploads.append(dict(dataset=str(path)))
    # Two texts that came with one name read apart by their hashes' first digits.
    assert compare.dataset_name(uploads[0]) == "the uploaded notes.txt (111111)"
    assert ("different data: the uploaded notes.txt (111111) and the uploaded notes.txt (222222)."
            in compare.comparability_note(uploads, [4, 4]))
    # The table and its Dataset filter name an upload as it came, not by its hash.
    row = compare.run_row(from_parts("20260101-000000-up-ab12", tmp_path, {**uploads[0], "preset": "tiny"},
                                     {"state": "finished"}, None))
    assert row["dataset"] == "notes.txt (111111)"
    (tmp_path / f"{'2' * 64}.name").write_text("other.txt")
    assert compare.dataset_name(uploads[0]) == "the uploaded notes.txt"   # the name is its own again


def test_the_vocabulary_note_reads_as_trains_overlay_caption_did():
    assert compare.vocabulary_note([10_000, 2_000, 10_000]).startswith("Their vocabularies differ (2,000 vs 10,000 ")
    assert compare.vocabulary_note([2_000, None]) is None and compare.vocabulary_note([]) is None


def test_grids_group_runs_count_progress_and_find_the_toggles():
    runs = [summary("20260102-b2", "p=none t=true", group="grid-b", dropout_placement="none", tie_weights=True),
            summary("20260102-b1", "p=none t=false", group="grid-b", state="running"),
            summary("20260101-a2", "x", group="grid-a", layers=2, state="failed"),
            summary("20260101-a1", "y", group="grid-a", layers=1),
            summary("20260101-zz", "alone")]
    grids = compare.grids(runs)
    assert [g["group"] for g in grids] == ["grid-b", "grid-a"]   # newest first, runs without a grid left out
    b, a = grids
    assert (b["total"], b["finished"], b["active"], b["failed"]) == (2, 1, 1, 0)
    assert b["toggles"] == ["tie_weights"] and a["toggles"] == ["layers"]
    assert (a["finished"], a["failed"]) == (1, 1)
    assert compare.grid_label(a) == "grid-a · tiny · layers · 2 runs"
    assert compare.grid_progress(b) == pytest.approx((1.0 + 0.25) / 2)   # the running one is at step 10/40


def test_show_value():
    assert [compare.show_value(v) for v in (None, "", True, False, 0.5, 20.0, 3, "ptb")] == [
        "—", "—", "true", "false", "0.5", "20", "3", "ptb"]
    empty = compare.runs_table([])
    assert empty.empty and list(empty.columns) == list(compare.COLUMNS)
    assert compare.table_csv(empty).strip() == ",".join(compare.COLUMNS)


def test_a_seeded_grids_toggles_leave_the_seed_out_and_its_label_counts_seeds():
    runs = [summary(f"20260103-{tied}-{seed}", f"tied={tied} seed={seed}", group="grid-s", tie_weights=tied,
                    seed=seed) for tied in (False, True) for seed in (1, 2, 3)]
    entry = compare.grids(runs)[0]
    assert entry["toggles"] == ["tie_weights"] and entry["seeds"] == 3   # seeds are replicates, not a toggle
    assert compare.grid_label(entry) == "grid-s · tiny · tie_weights × 3 seeds · 6 runs"


def test_the_table_shows_the_runs_one_speed_not_its_last_interval():
    """QA: the table showed status tokens_per_s (a killed run's last interval: 1,500) while Train showed
    the median of its train lines (83,718). The table shows RunSummary.tokens_per_s, as Train does."""
    ended = summary("20260101-000000-a", "killed", state="failed",
                    status={"tokens_per_s": 1_500.0, "median_tokens_per_s": 83_718.0})
    running = summary("20260101-000000-b", "live", state="running",
                      status={"tokens_per_s": 1_500.0, "median_tokens_per_s": 83_718.0})
    table = compare.runs_table([ended, running]).set_index("name")
    assert table.at["killed", "tokens_per_s"] == 83_718.0 == ended.tokens_per_s
    assert table.at["live", "tokens_per_s"] == 1_500.0 == running.tokens_per_s
    assert "83718.0" in compare.table_csv(compare.runs_table([ended]))


def test_the_diff_names_an_upload_as_it_came_not_by_its_hidden_path(tmp_path):
    stored = tmp_path / ".uploads" / f"{'3' * 64}.txt"
    stored.parent.mkdir()
    stored.write_text("the cat sat\n")
    stored.with_suffix(".name").write_text("tiny3.txt")
    runs = [summary("20260101-000000-a", "up", dataset=str(stored)), summary("20260101-000000-b", "ptb", dataset="ptb")]
    diff = compare.config_diff(runs, ["#1", "#2"])
    assert diff.loc["dataset"].tolist() == ["tiny3.txt", "ptb"]
    plain_file = summary("20260101-000000-c", "file", dataset="/data/notes/book.txt")
    assert compare.config_diff([plain_file, runs[1]], ["#1", "#2"]).loc["dataset", "#1"] == "/data/notes/book.txt"


def test_recipes_that_differ_only_in_speed_or_logging_keys_are_one_recipe():
    book = PRESETS["book"].config().to_dict()
    graphed = {**book, "cuda_graphs": "on", "compiled_cell": "off", "device": "cuda", "name": "x", "log_every": 5}
    assert compare.recipe_differences(book, graphed) == []
    assert compare.recipe_differences(book, {**graphed, "amp": "bf16", "tie_weights": False}) == ["tie_weights", "amp"]


def test_a_token_slice_of_zero_reads_as_the_whole_split_in_the_diff():
    """QA round 11: the book's train_tokens read '0' beside a tiny run's 60000."""
    assert compare.show_value(0, "train_tokens") == "0 (all)" and compare.show_value(60_000, "train_tokens") == "60000"
    assert compare.show_value(0, "max_steps") == "0"


def test_a_grids_label_says_when_it_was_queued():
    """Twelve grids of one recipe read the same but for their hex (QA round 16)."""
    runs = [summary(f"20261129-011715-tied-{tied}-ab{tied:02d}", f"tied={tied}", group="grid-2b83f3",
                    tie_weights=bool(tied)) for tied in (0, 1)]
    assert compare.grid_label(compare.grids(runs)[0]) == "grid-2b83f3 · 2026-11-29 01:17 · tiny · tie_weights · 2 runs"


def test_the_runs_csv_has_the_recipe_a_methods_section_needs_and_the_screen_does_not():
    """QA round 19, P3: embed_size, vocab_size, batch_size, bptt, clip, train_tokens, parent and fork_from
    were in no export; the screen's table keeps its columns (RUN_COLUMNS chooses them)."""
    from ui.compare_runs import RUN_COLUMNS

    recipe = dict(embed_size=200, vocab_size=5000, batch_size=32, bptt=35, clip=0.25, train_tokens=20000)
    fork = summary("20260101-000005-f", "fork", parent="20260101-000004-p", fork_from="epoch:2", **recipe)
    text = summary("20260101-000006-t", "notes", dataset="notes.txt", **recipe)   # reads no train_tokens
    made = summary("20260101-000007-s", "made", dataset="synthetic", **recipe)   # reads no vocab_size
    rows = list(csv.DictReader(io.StringIO(compare.table_csv(compare.runs_table([fork, text, made])))))
    keys = ("embed_size", "vocab_size", "batch_size", "bptt", "clip", "train_tokens", "parent", "fork_from")
    assert [rows[0][key] for key in keys] == ["200", "5000", "32", "35", "0.25", "20000", "20260101-000004-p",
                                             "epoch:2"]
    assert (rows[1]["train_tokens"], rows[1]["parent"], rows[1]["fork_from"]) == ("", "", "")   # unread, unset
    assert rows[2]["vocab_size"] == "" and rows[2]["embed_size"] == "200"
    assert not set(keys) & set(RUN_COLUMNS)
