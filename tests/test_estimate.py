"""explorer.estimate: how long a config would train here, from what runs of its shape measured."""

from explorer.estimate import measure, measured_speed, pace, rough_duration, same_shape, time_note
from lmcore.presets import PRESETS
from lmcore.summaries import from_parts

BOOK = PRESETS["book"].config().to_dict()
TINY = PRESETS["tiny"].config().to_dict()


def run(run_id, config, speed, device="cpu", reference=None):
    status = {"state": "finished", "device": device, "median_tokens_per_s": speed, "tokens_per_s": speed}
    return from_parts(run_id, f"/nowhere/{run_id}", config, status, None, reference=reference)


def test_only_runs_of_the_same_shape_on_the_same_device_time_a_config():
    runs = [run("a", BOOK, 1_700.0), run("b", {**BOOK, "dropout": 0.2, "lr": 5.0}, 1_900.0),   # same shape
            run("c", {**BOOK, "dropout_placement": "variational"}, 900.0),   # masked recurrence: another cost
            run("d", BOOK, 200_000.0, device="cuda"), run("e", TINY, 12_000.0),
            run("f", BOOK, 95_000.0, reference={"device": "NVIDIA H200"})]   # shipped: trained elsewhere
    assert measured_speed(BOOK, runs, "cpu") == (1_800.0, 2)
    assert measured_speed(BOOK, runs, "cuda") == (200_000.0, 1)
    assert same_shape(BOOK, {**BOOK, "dropout_placement": "none"})
    assert not same_shape(BOOK, {**BOOK, "dropout_placement": "horizontal"})


def test_the_note_says_hours_before_start_and_where_the_speed_comes_from():
    steps = 53_080  # the book's 40 epochs
    kind, text = time_note(BOOK, steps, [run("a", BOOK, 1_800.0)], "cpu")
    assert kind == "warning" and text.startswith("About **5 h 40 min** here, at 1,800 tokens/s: the pace of 1 earlier")
    kind, text = time_note(BOOK, steps, [], "cpu")                     # nothing measured here: the doc's speed
    assert kind == "warning" and "no run of this shape has trained on this CPU yet" in text and "5 h 40 min" in text
    assert time_note(BOOK, steps, [], "cuda") is None and time_note(TINY, 1_192, [], "cpu") is None
    kind, text = time_note(TINY, 1_192, [run("t", TINY, 12_000.0), run("u", TINY, 10_000.0)], "cpu")
    assert kind == "caption" and text.startswith("About **43 s** here, at 11,000 tokens/s: the median pace of 2")


def test_rough_durations_keep_an_estimates_precision():
    assert [rough_duration(s) for s in (0.2, 42.4, 90, 3_000, 5_400, 20_410)] == \
        ["1 s", "42 s", "2 min", "50 min", "1 h 30 min", "5 h 40 min"]


def timed(run_id, config, step, elapsed, shared=None, spent=None):
    """A finished CPU run that trained `step` steps in `elapsed` seconds, `shared` of them beside another run."""
    status = {"state": "finished", "device": "cpu", "step": step, "elapsed": elapsed,
              "time_spent": spent or {"evaluation": 0.0, "sampling": 0.0, "saving": 0.0},
              **({"shared_seconds": shared} if shared is not None else {})}
    return from_parts(run_id, f"/nowhere/{run_id}", config, status, None)


def test_the_estimate_is_of_a_whole_runs_time_evaluations_included():
    """The tokens/s pages show counts the steps alone; a run also evaluates, samples and saves."""
    tiny = timed("t", TINY, 1_192, 80.0, spent={"evaluation": 8.0, "sampling": 1.0, "saving": 1.0})
    assert tiny.tokens_per_s == 1_192 * 400 / 70.0                     # the steps' own speed, 6,811
    assert pace(tiny) == (1_192 * 400 / 80.0, None)                    # 5,960 over its whole time
    kind, text = time_note(TINY, 1_192, [tiny], "cpu")
    assert text == ("About **80 s** here, at 5,960 tokens/s: the pace of 1 earlier run of this shape on this "
                    "machine's cpu, over its whole training time (evaluations and saves included, so below the "
                    "tokens/s it shows).")


def test_runs_that_trained_alone_time_a_config_before_runs_that_shared_the_machine():
    """QA round 10: tiny and tiny-dropout started together; the estimate read 50 s where both took over a minute."""
    together = [timed("a", TINY, 1_192, 83.0, shared=60.0), timed("b", TINY, 1_192, 67.0, shared=40.0)]
    measured = measure(TINY, together, "cpu")
    assert (measured.runs, measured.left_out) == (2, 0) and measured.shared == (60.0 / 83.0, 40.0 / 67.0)
    kind, text = time_note(TINY, 1_192, together, "cpu")
    assert text.startswith("About **74 s** here, at 6,430 tokens/s: the median pace of 2 earlier runs")
    assert text.endswith("They trained beside another run (72% and 60% of their time): alone, this may go faster.")
    alone = timed("c", TINY, 1_192, 40.0, shared=0.0)
    older = timed("d", TINY, 1_192, 44.0)                              # from before shared_seconds: not known to share
    assert measured_speed(TINY, together + [alone, older], "cpu") == ((11_920.0 + 476_800 / 44.0) / 2, 2)
    kind, text = time_note(TINY, 1_192, together + [alone, older], "cpu")
    assert text.startswith("About **42 s** here, at 11,378 tokens/s: the median pace of 2 earlier runs")
    assert "; 2 that shared the machine with another run left out." in text and "beside" not in text


def test_the_shares_of_shared_time_read_as_many_runs_as_there_are():
    """QA round 18: eight runs that shared the machine read '(100% and 100% and 100% of the time)'."""
    from explorer.estimate import shared_text

    assert shared_text([0.5]) == "50% of the time"
    assert shared_text([0.72, 0.6]) == "72% and 60% of their time"
    assert shared_text([1.0] * 8) == "100% of each one's time"
    assert shared_text([0.4, 1.0, 0.7, 0.9]) == "from 40% to 100% of their time"
