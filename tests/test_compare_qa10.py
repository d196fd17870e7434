"""Compare, QA round 10: the config differences give each run its real vocabulary and leave out the
corpus keys its data does not read; an entropy floor is drawn for its own run only, named in the
legend, never as a label over the bars; the runs table puts the scores, size and time first."""

from __future__ import annotations

import json

import pytest
from test_page_compare import config_diff, open_page, plain_text, status_of, texts

from charts import chart, named, values
from explorer import compare
from lmcore.config import Config
from lmcore.sizes import vocab_size_for
from lmcore.summaries import from_parts, reference_runs


@pytest.fixture
def folders(trained_runs, monkeypatch):
    """The shared trained runs by name, read only, as the page's runs."""
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(trained_runs[0]))
    return trained_runs[1]


def summary(run_id, params=None, **config):
    return from_parts(run_id, f"/runs/{run_id}", {"name": run_id, **config}, {"state": "finished"}, params)


def test_a_key_differs_only_between_the_runs_whose_data_reads_it():
    """QA: synthetic beside two PTB runs read vocab_size '10000 | 2000 | 10000' and hid synthetic_vocab
    as equal, and PTB runs differed in synthetic_tokens."""
    runs = [summary("synth", {"vocab_size": 1000}, dataset="synthetic", vocab_size=10_000, synthetic_vocab=1000,
                    synthetic_tokens=200_000, train_tokens=0),
            summary("small", {"vocab_size": 2000}, dataset="ptb", vocab_size=2000, train_tokens=60_000,
                    synthetic_tokens=300_000),
            summary("full", {"vocab_size": 10_000}, dataset="ptb", vocab_size=10_000, train_tokens=0,
                    synthetic_tokens=300_000)]
    diff = compare.config_diff(runs, ["#1", "#2", "#3"])
    assert list(diff.index) == ["dataset", "vocabulary", "vocab_size", "train_tokens"]
    assert diff.loc["vocabulary"].tolist() == ["1,000", "2,000", "10,000"]      # params.json's: what each model has
    assert diff.loc["vocab_size"].tolist() == ["not used", "2000", "10000"]
    assert diff.loc["train_tokens"].tolist() == ["not used", "60000", "0 (all)"]
    # Two PTB runs alike in their PTB keys: the generated corpus's keys, unread by both, are no difference.
    twins = [summary("a", dataset="ptb", synthetic_tokens=1000, dropout=0.1), summary("b", dataset="ptb", dropout=0.2)]
    assert list(compare.config_diff(twins).index) == ["dropout"]
    # Between two runs on the generated corpus its keys count, and vocab_size is unread by both.
    seeds = [summary("s1", dataset="synthetic", data_seed=1, vocab_size=5),
             summary("s2", dataset="synthetic", data_seed=2)]
    assert compare.config_diff(seeds, ["#1", "#2"]).loc["data_seed"].tolist() == ["1", "2"]
    assert "vocab_size" not in compare.config_diff(seeds).index


def test_a_vocabulary_before_training_is_the_configs_own_and_an_unknown_one_differs_from_none():
    queued = summary("queued", dataset="synthetic", synthetic_vocab=500)          # no params.json yet
    assert compare.vocabulary(queued) == vocab_size_for(Config(dataset="synthetic", synthetic_vocab=500))
    text = summary("text", dataset="/data/notes.txt")                              # not read yet: unknown
    assert compare.vocabulary(text) is None
    trained = summary("trained", {"vocab_size": 4000}, dataset="/data/notes.txt", vocab_size=4000)
    assert "vocabulary" not in compare.config_diff([text, trained]).index
    assert compare.show_value(None, compare.VOCABULARY) == "not known yet"


def test_amp_is_not_used_where_a_run_trained_off_cuda():
    """QA round 29: two CPU runs, amp=bf16 and none, trained to the same numbers (bf16 autocast acts on CUDA only),
    and the differences listed `amp bf16 / none` as what set them apart."""
    def run(run_id, device, amp):
        return from_parts(run_id, f"/runs/{run_id}", {"name": run_id, "dataset": "ptb", "amp": amp},
                          {"state": "finished", "device": device}, None)

    cpu = [run("bf16", "cpu", "bf16"), run("plain", "cpu", "none")]
    assert "amp" not in compare.config_diff(cpu, ["#1", "#2"]).index
    gpu = [run("bf16", "cuda", "bf16"), run("plain", "cuda", "none")]
    assert compare.config_diff(gpu, ["#1", "#2"]).loc["amp"].tolist() == ["bf16", "none"]
    # A key differs only between the runs that read it, as a corpus key does: one GPU run's bf16 is no difference.
    mixed = [run("bf16", "cuda", "bf16"), run("cpu", "cpu", "none")]
    assert "amp" not in compare.config_diff(mixed, ["#1", "#2"]).index


def test_the_page_shows_the_vocabularies_the_note_above_counts(folders):
    book = next(s for s in reference_runs() if s.config.get("preset") == "book")
    chosen = [folders["synthetic"], folders["plain"], book.path]
    at = open_page(**{"compare.selected": [folder.name for folder in chosen]})
    sizes = [json.loads((folder / "params.json").read_text())["vocab_size"] for folder in chosen]
    diff = config_diff(at)
    assert diff.loc["vocabulary"].tolist() == [f"{size:,}" for size in sizes]
    warning = plain_text(next(w.value for w in at.warning if "not comparable" in w.value))
    assert "(" + " vs ".join(f"{size:,}" for size in sorted(set(sizes))) + " words)" in warning
    assert diff.loc["vocab_size"].tolist()[0] == "not used"                       # the generated corpus has its own
    assert not {"synthetic_tokens", "synthetic_vocab", "data_seed"} & set(diff.index)
    table = next(m.value for m in at.markdown if "<table" in m.value)
    assert table.count("font-style:italic") == list(diff.to_numpy().ravel()).count("not used")
    assert "*not used*: the key does nothing on that run's data or device" in texts(at)


def test_the_floor_lies_under_its_own_run_in_its_colour_and_ticks_only_its_bars(folders):
    """QA: the floor spanned the whole chart, so a PTB curve went 'below the best possible', and its
    label on the bars ran over the test bars."""
    floor = status_of(folders["synthetic"])["floor_ppl"]
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["synthetic"].name]})
    curves = named(chart(at, key="compare.curves")["data"])
    line = curves[f"best possible for synthetic (entropy floor) {floor:.1f}"]
    synthetic, plain = curves["synthetic validation"], curves["plain validation"]
    steps = values(curves["synthetic train"]) + values(synthetic)
    assert values(line, "y") == [pytest.approx(floor)] * 2
    assert values(line) == [min(steps), max(steps)]                               # the synthetic run's steps
    assert max(values(line)) < max(values(plain))                                 # not under the PTB run's last steps
    assert line["line"]["color"] == synthetic["line"]["color"] and line["line"]["dash"] == "dash"
    bars = chart(at, key="compare.bars")
    ticks = sorted((s["x0"], s["x1"]) for s in bars["layout"]["shapes"])
    # synthetic is the second of two bars in each group of three: Plotly's 0.8 wide groups, 0.4 a bar
    assert ticks == [(pytest.approx(i), pytest.approx(i + 0.4)) for i in range(3)]
    assert [s["y0"] for s in bars["layout"]["shapes"]] == [pytest.approx(floor)] * 3
    assert not bars["layout"].get("annotations")


def test_the_runs_table_puts_scores_size_and_time_first_under_short_headers():
    """QA: at 1024 px with the sidebar open the 270 px run column left only best and final validation
    in view; test, parameters and training time needed sideways scrolling."""
    from ui.compare_runs import RUN_COLUMNS, TABLE_COLUMNS

    assert RUN_COLUMNS[:6] == ["label", "best_val_ppl", "final_val_ppl", "test_ppl", "params", "training_seconds"]
    first = [TABLE_COLUMNS[key] for key in RUN_COLUMNS[:6]]
    assert sum(column["width"] for column in first) <= 564 - 33                   # the table less its tick column
    assert [column["label"] for column in first[1:]] == ["best val", "final val", "test", "params", "time"]
    assert "training time" in first[-1]["help"]                                   # the full name on pointing
