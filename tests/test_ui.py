"""Shared UI helpers that need no page."""

import time

import pandas as pd
import pytest

import ui


def frame(train=(), val=()) -> pd.DataFrame:
    """A run's metrics table: its train then its validation perplexities, one step apart, in epoch 1."""
    train, val = list(train), list(val)
    return pd.DataFrame({"kind": ["train"] * len(train) + ["val"] * len(val), "step": range(len(train + val)),
                         "epoch": 1, "ppl": train + val})


def test_eta_counts_training_time_not_the_stopped_spell():
    # resumed after a day: 100 s of training for a quarter of the steps leaves 300 s
    status = {"state": "running", "step": 250, "total_steps": 1000, "epoch": 1,
              "started_at": time.time() - 86_400, "elapsed": 100.0}
    fraction, text = ui.progress_text(status)
    assert fraction == 0.25 and text == "step 250 / 1,000 · epoch 1 · ETA 5:00"


def test_eta_without_elapsed_falls_back_to_the_wall_clock():
    status = {"state": "running", "step": 500, "total_steps": 1000, "started_at": time.time() - 60}
    assert ui.progress_text(status)[1].endswith("ETA 1:00")
    assert "ETA" not in ui.progress_text({**status, "state": "stopped"})[1]


def test_a_run_that_ended_inside_an_epoch_says_how_much_of_it_trained():
    ended = {"state": "finished", "step": 60, "total_steps": 60, "epoch": 2, "steps_per_epoch": 49}
    assert ui.progress_text(ended)[1] == "step 60 / 60 · epoch 2 (11 of its 49 steps)"
    assert ui.progress_text({**ended, "state": "running", "total_steps": 98})[1] == "step 60 / 98 · epoch 2"
    # Right after an epoch's last step the counter names the next epoch, which trained nothing.
    assert ui.progress_text({**ended, "step": 49, "total_steps": 49})[1] == "step 49 / 49 · epoch 1"
    assert ui.progress_text({**ended, "steps_per_epoch": None})[1] == "step 60 / 60 · epoch 2"  # older runs


def test_a_diverged_perplexity_reads_as_huge():
    assert ui.fmt_ppl(1.0142320540616806e304) == "1.0e304" and ui.fmt_ppl(88.25) == "88.2"


def test_run_label_shows_best_with_its_epoch_and_final_validation():
    from lmcore.summaries import from_parts

    summary = from_parts("20260101-000000-book-ab12", "/runs/x", {"name": "book"},
                         {"state": "finished", "best_val_ppl": 82.31, "final_val_ppl": 85.0, "best_epoch": 3}, None)
    # the id's tail beside the name: at the end a 1024 px Train page cut it to '· d75' (QA round 10)
    assert ui.run_label(summary) == "✅ book · ab12 · finished · best val 82.3 (epoch 3) · final 85.0"
    # Still training: its scores change with the next validation, and a select box is not redrawn then.
    running = from_parts("20260101-000000-book-ab12", "/runs/x", {"name": "book"},
                         {"state": "running", "best_val_ppl": 82.31, "final_val_ppl": 85.0, "best_epoch": 3}, None)
    assert ui.run_label(running) == f"{ui.STATE_ICONS['running']} book · ab12 · running"
    # A grid's run names its grid, so typing the grid's name in a select finds its runs (QA round 16).
    in_grid = from_parts("20260101-000000-book-ab12", "/runs/x", {"name": "tied=true seed=2", "group": "grid-2b83f3"},
                         {"state": "running"}, None)
    assert ui.run_label(in_grid) == f"{ui.STATE_ICONS['running']} tied=true seed=2 · ab12 · grid-2b83f3 · running"


def test_an_outlier_run_clips_the_chart_axis():
    curves = [{"label": "plain", "frame": frame(val=[900.0, 200.0, 120.0])},
              {"label": "diverged", "frame": frame(val=[900.0, 300.0, 1.0142320540616806e304])}]
    clip = ui.curve_clip(curves)
    assert clip.note() == "Axis clipped at 900.0: diverged reaches 1.0e304."
    low, high = ui.ppl_figure(curves, log_y=True, clip=clip).layout.yaxis.range
    assert 10 ** high < 2000 and 10 ** low > 50        # the others' range, not up to 1e304
    assert ui.ppl_figure(curves, log_y=True).layout.yaxis.range is None


def test_runs_side_by_side_stop_at_twice_the_highest_latest_validation():
    """Untrained first steps in the thousands, and first epochs (book's 204.4), would squash the curves
    where runs differ (80 vs 120) into the bottom of the axis."""
    book = {"label": "book", "frame": frame([5000.0, 300.0, 90.0], [204.4, 79.9])}
    tiny = {"label": "tiny", "frame": frame([2000.0, 400.0, 180.0], [150.0, 120.0])}
    clip = ui.curve_clip([book, tiny])
    assert clip.note() == ("Axis stops at 240.0, twice the highest latest validation perplexity, so the first steps "
                           "do not squash where the runs part: book reaches 5,000.0; tiny reaches 2,000.0.")
    # an over-fitting run's climb back up is its lesson: its latest validation keeps it on the axis
    over_fitting = {"label": "over", "frame": frame([900.0, 20.0, 2.0], [130.0, 5700.0])}
    assert ui.curve_clip([book, over_fitting]) is None
    # QA round 8: a run before its first validation stays on the axis, by its latest training value
    starting = {"label": "starting", "frame": frame([5000.0, 1170.0])}
    assert ui.curve_clip([book, tiny, starting]).high == 2340.0
    # ... and the sentence says so: it read 'twice the highest latest validation' there (QA round 10)
    assert ui.curve_clip([book, tiny, starting]).note() == (
        "Axis stops at 2,340.0, twice starting's latest training perplexity (1,170.0; it has no validation yet), "
        "so the first steps do not squash where the runs part: book reaches 5,000.0; starting reaches 5,000.0.")
    # a run without validation beside higher validations leaves the limit, and its words, to them
    early = {"label": "early", "frame": frame([5000.0, 110.0])}
    assert ui.curve_clip([book, tiny, early]).note().startswith(f"Axis stops at 240.0, {ui.CEILING_REASON}:")
    # a name is the user's text: Markdown in it reads as typed
    assert "twice *a*'s latest" not in ui.curve_clip([book, {**starting, "label": "*a*"}]).note()
    assert ui.curve_clip([book]) is None                                   # one run alone shows its whole descent
    assert ui.curve_clip([book, {"label": "queued", "frame": frame([], [])}]) is None


def test_every_page_list_holds_the_users_runs_then_the_reference_runs(tmp_path, monkeypatch):
    from lmcore.reference import reference_dir
    from lmcore.runs import create_run

    monkeypatch.setenv("LMCORE_RUNS_DIR", str(tmp_path / "runs"))
    assert [s.id for s in ui.all_runs()] == sorted(p.name for p in reference_dir().iterdir() if p.is_dir())
    mine = create_run({"preset": "tiny"}, tmp_path / "runs")
    listed = ui.all_runs()
    assert listed[0].id == mine.name and not listed[0].is_reference and all(s.is_reference for s in listed[1:])
    book = next(s for s in listed if s.is_reference and s.config.get("preset") == "book")
    assert ui.run_folder(book.id) == book.path and ui.run_folder(mine.name) == mine
    assert ui.run_folder("../" + book.id) is None and ui.run_folder("not-a-run") is None


def test_a_diverged_run_drawn_alone_gets_readable_powers_of_ten():
    alone = ui.ppl_figure([{"label": "diverging", "frame": frame([1.0142320547350045e304] * 3)}])
    assert alone.layout.yaxis.tickvals is None and alone.layout.yaxis.exponentformat == "power"
    healthy = ui.ppl_figure([{"label": "healthy", "frame": frame([2000.0, 400.0, 150.0])}])
    assert list(healthy.layout.yaxis.tickvals) == ui.LOG_TICKS    # the short labels: 100, 200, 500, 1k


def test_a_narrow_log_axis_gets_plotlys_even_labels_instead_of_one_or_none():
    # 1-2-5 labels put one label (1k) on a new run's 700-1,100 and none on 130-160; under a power of
    # ten Plotly labels evenly spaced values in full, so no tickvals of ours
    for values in ([1100.0, 800.0, 700.0], [160.0, 140.0, 130.0], [9500.0, 9200.0, 9000.0]):
        figure = ui.ppl_figure([{"label": "new", "frame": frame(values)}])
        assert figure.layout.yaxis.tickvals is None and figure.layout.yaxis.type == "log"
    wide = ui.ppl_figure([{"label": "late", "frame": frame([1200.0, 400.0, 150.0])}])
    assert list(wide.layout.yaxis.tickvals) == ui.LOG_TICKS      # 8x: 200, 500, 1k
    curves = [{"label": "a", "frame": frame([5000.0, 180.0, 150.0], [150.0, 140.0])},
              {"label": "b", "frame": frame([2000.0, 190.0, 160.0], [160.0, 150.0])}]
    clipped = ui.ppl_figure(curves, clip=ui.curve_clip(curves))
    assert clipped.layout.yaxis.tickvals is None                 # judged on the clipped range, 140-190


def test_one_formatter_each_rounds_and_separates_the_same_on_every_page():
    """QA: Train cut 9.79 s to 0:09 while Compare rounded it to 00:00:10; the table's compact params
    read 1.6M beside 1.55M elsewhere; sample cards read 'step 1274' beside 'step 1,309'."""
    assert ui.fmt_duration(9.79) == "0:10" and ui.fmt_duration(5.56) == "0:06" and ui.fmt_duration(9.4) == "0:09"
    assert ui.fmt_duration(3723.6) == "1:02:04" and ui.fmt_duration(None) == "—"
    assert ui.fmt_count(1_549_800) == "1.55M" and ui.fmt_count(13_280_400) == "13.28M"
    assert ui.fmt_whole(1274) == "1,274" and ui.fmt_whole(83717.5) == "83,718" and ui.fmt_whole(None) == "—"
    assert ui.fmt_whole(float("nan")) == "—" and ui.fmt_count(True) == "—"


def test_start_run_refuses_a_corpus_that_cannot_train_before_making_a_folder(tmp_path, monkeypatch):
    """Every page starts runs through ui.start_run: it makes no run that fails at its first batch."""
    from lmcore.config import ConfigError
    from lmcore.presets import resolve

    monkeypatch.setenv("LMCORE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr("lmcore.launch.launch", lambda folder: None)
    with pytest.raises(ConfigError, match="the validation split .* is too small for eval_batch_size 10"):
        ui.start_run(resolve("tiny", overrides={"valid_tokens": 5}))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_runs_drawn_together_get_their_own_colours_the_same_in_any_order():
    """QA round 8: colours picked by a run's place changed from page to page; picked by its checksum
    alone, 8 runs got 6 colours. Now the set decides, not the order, and 8 runs get 8 colours."""
    ids = [f"20261128-0{i}0000-tiny-{i:04x}" for i in range(12)]
    eight = ids[:8]
    together = dict(zip(eight, ui.run_styles(eight)))
    assert together == dict(zip(eight[::-1], ui.run_styles(eight[::-1])))  # the order a page lists them in
    assert len({style.colour for style in together.values()}) == 8 and "#7f7f7f" not in ui.RUN_PALETTE
    assert all(style.dash == "solid" for style in together.values())
    # the oldest run always has its checksum's colour; past 8 runs colours repeat with another dash
    assert ui.run_styles(eight)[0] == ui.run_styles(eight[:1])[0]
    assert len(set(ui.run_styles(ids))) == len(ids)


def old_run_colours(ids: list[str]) -> list[str]:
    """run_styles' colours before runs got shapes (QA round 17): pages must keep them."""
    import zlib

    colours, taken = {}, set()
    for run_id in sorted(set(ids)):
        start = zlib.crc32(run_id.encode()) // 2 % len(ui.RUN_PALETTE)
        free = [ui.RUN_PALETTE[(start + k) % len(ui.RUN_PALETTE)] for k in range(len(ui.RUN_PALETTE))
                if ui.RUN_PALETTE[(start + k) % len(ui.RUN_PALETTE)] not in taken]
        colours[run_id] = next((c for c in free if not ui.NEAR_COLOURS.get(c, set()) & taken), free[0])
        taken.add(colours[run_id])
        if len(taken) == len(ui.RUN_PALETTE):
            taken = set()
    return [colours[run_id] for run_id in ids]


def test_runs_drawn_together_differ_in_shape_as_well_as_colour():
    """QA round 17: in a red-green colour-blind view five runs on Compare showed two or three colours,
    and up to 8 runs differed by colour alone. Two to eight runs now get distinct markers, marks and
    bar fills, and the same colours as before."""
    assert len(set(ui.RUN_SYMBOLS)) == len(set(ui.RUN_MARKS)) == len(set(ui.RUN_PATTERNS)) == len(ui.RUN_PALETTE)
    ids = [f"20261128-0{i}1500-tiny-{i * 7919:04x}" for i in range(40)]
    for count in range(2, 9):
        for first in range(0, 40 - count, 3):
            chosen = ids[first:first + count]
            styles = ui.run_styles(chosen)
            assert [s.colour for s in styles] == old_run_colours(chosen)
            assert len({s.symbol for s in styles}) == len({s.mark for s in styles}) == count, chosen
            assert len({s.pattern for s in styles}) == count and {s.dash for s in styles} == {"solid"}
    # a run's shape goes with its colour, so it is as stable as the colour from page to page
    assert all(s.symbol == ui.RUN_SYMBOLS[ui.RUN_PALETTE.index(s.colour)] for s in ui.run_styles(ids[:8]))
    # past 8 runs no two share both shape and dash (what is left without colour), up to 32
    styles = ui.run_styles(ids[:32])
    assert [s.colour for s in styles] == old_run_colours(ids[:32])
    assert len({(s.symbol, s.dash) for s in styles}) == 32


def test_colours_a_projector_shows_alike_get_bar_fills_unlike_each_other():
    """QA round 18: red's bars were / and pink's \\, mirrored stripes, the pair the comment had called the
    closest; red and pink are a pair a projector shows alike. No such pair gets mirrored or equal stripes."""
    fill = {colour: ui.colour_style(colour).pattern for colour in ui.RUN_PALETTE}
    for colour, near in ui.NEAR_COLOURS.items():
        for other in near:
            assert fill[colour] != fill[other] and {fill[colour], fill[other]} != {"/", "\\"}, (colour, other)


def test_a_grids_cells_get_the_runs_colours_and_shapes_in_order():
    """A grid's cells past 8 took PALETTE's grey (reads as switched off) and olive with the red cell's
    square; now the 8 run colours and shapes, moving on one shape a round, as runs' do."""
    cells = [ui.place_style(i) for i in range(16)]
    assert {s.colour for s in cells} == set(ui.RUN_PALETTE)
    assert len({s.symbol for s in cells[:8]}) == 8 and len({(s.colour, s.symbol) for s in cells}) == 16


def test_a_pair_never_gets_two_colours_a_projector_shows_alike():
    """QA round 12: a classroom pair was drawn pink and red."""
    ids = [f"20261128-1{i:02d}000-tiny-{i:04x}" for i in range(40)]
    for first in ids:
        for second in ids[:10]:
            if first != second:
                a, b = ui.run_colours([first, second])
                assert b not in ui.NEAR_COLOURS.get(a, set()), (first, second, a, b)


def test_the_four_shipped_reference_runs_get_four_colours():
    from lmcore.summaries import reference_runs

    ids = [summary.id for summary in reference_runs()]
    assert len(ids) == 4 and len(set(ui.run_colours(ids))) == 4
    assert all(style.dash == "solid" for style in ui.run_styles(ids))


def runs_figure(count: int, name: str = "tiny · dropout_placement=variational · dropout=0.5"):
    return ui.ppl_figure([{"label": f"{name} {i}", "frame": frame([900.0, 300.0], [250.0, 200.0])}
                          for i in range(count)])


def plot_height(figure) -> int:
    return figure.layout.height - figure.layout.margin.t - figure.layout.margin.b


def test_eight_runs_legend_goes_under_the_plot_which_keeps_its_height():
    """QA round 9: above the plot, 8 runs' names took 6 lines of a 1024 px page's 420 px chart."""
    two, eight = runs_figure(2), runs_figure(8)
    legend = eight.layout.legend
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("v", "container", 0, "bottom")
    assert eight.layout.height - two.layout.height == 6 * ui.LEGEND_LINE     # a line more for each run
    assert plot_height(eight) == plot_height(two) >= 320                     # the curves keep their room
    assert ui.legend_entries(eight) == 8                                     # one entry a run
    # One run: its train and validation entries above the plot, as the Train page has always drawn them.
    alone = runs_figure(1)
    assert alone.layout.legend.orientation == "h" and alone.layout.height == 420


def test_time_trained_again_after_a_kill_is_said_beside_the_training_time():
    from lmcore.summaries import from_parts

    resumed = from_parts("r", "/runs/r", {"preset": "tiny"}, {"state": "finished", "elapsed": 13.0,
                                                              "redone_seconds": 9.2}, None)
    assert ui.redone_time(resumed) == " (and 0:09 trained again after a kill, not counted)"
    assert ui.redone_time(from_parts("s", "/runs/s", {"preset": "tiny"}, {"state": "finished"}, None)) == ""


def test_a_best_validation_inside_an_epoch_says_how_far_in():
    from lmcore.summaries import from_parts

    status = {"state": "finished", "best_val_ppl": 90.0, "best_epoch": 2, "best_step": 160, "step": 160,
              "total_steps": 160, "steps_per_epoch": 149}
    capped = from_parts("c", "/runs/c", {"preset": "tiny", "epochs": 8, "max_steps": 160}, status, None)
    assert ui.best_epoch_suffix(capped) == " (epoch 2, 11 of its 149 steps)"
    whole = from_parts("w", "/runs/w", {"preset": "tiny"}, {**status, "best_step": 298}, None)
    assert ui.best_epoch_suffix(whole) == " (epoch 2)"                  # the end of epoch 2


def test_a_shown_run_is_followed_until_it_is_stopped_or_deleted_elsewhere(trained_runs, tmp_path):
    """QA round 13: Generate called a run stopped in another tab 'running', and showed a deleted run
    until a click; its watch reruns the page on either."""
    import json
    import shutil

    from conftest import copy_run
    from lmcore.summaries import summarize
    from ui import shown_run_changed

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    summary = summarize(folder)
    assert not shown_run_changed(summary)
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "state": "stopped"}))
    assert shown_run_changed(summary) and not shown_run_changed(summarize(folder))
    (folder / "config.json").unlink()
    assert not shown_run_changed(summarize(folder))     # damaged: nothing to follow
    shutil.rmtree(folder)
    assert shown_run_changed(summary)


def test_set_up_counts_queued_runs_apart_from_training_ones():
    """QA round 18: "12 runs are already training" beside the sidebar's "2 running · 10 queued"."""
    from types import SimpleNamespace

    from ui.train_setup import sharing_note

    runs = [SimpleNamespace(state=s) for s in ["running"] * 2 + ["queued"] * 10 + ["finished"]]
    assert sharing_note(runs) == "2 runs are already training (10 more queued); runs share the machine."
    assert sharing_note(runs[:1]) == "1 run is already training; runs share the machine."
    assert sharing_note(runs[2:]) == "10 runs are queued to train; runs share the machine."
    assert sharing_note(runs[-1:]) is None


def test_end_labels_that_would_overlap_are_moved_apart():
    """Start's recipes: book-horizontal ends at 77.6 and variational-medium at 76.7, and one label hid the other."""
    from ui.reference import spread

    assert spread([79.9, 86.7, 76.7, 77.6], 4.0) == [79.9, 86.7, 71.9, 75.9]   # from the top down
    assert spread([80.0, 90.0], 4.0) == [80.0, 90.0]                           # apart already: unmoved
