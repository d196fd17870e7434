"""explorer.estimate: how long a config would train here, from what runs of its shape measured."""

from explorer.estimate import measured_speed, rough_duration, same_shape, time_note
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
    assert kind == "warning" and text.startswith("About **5 h 40 min** here, at 1,800 tokens/s: the speed of 1 earlier")
    kind, text = time_note(BOOK, steps, [], "cpu")                     # nothing measured here: the doc's speed
    assert kind == "warning" and "no run of this shape has trained on this CPU yet" in text and "5 h 40 min" in text
    assert time_note(BOOK, steps, [], "cuda") is None and time_note(TINY, 1_192, [], "cpu") is None
    kind, text = time_note(TINY, 1_192, [run("t", TINY, 12_000.0), run("u", TINY, 10_000.0)], "cpu")
    assert kind == "caption" and text.startswith("About **43 s** here, at 11,000 tokens/s: the median speed of 2")


def test_rough_durations_keep_an_estimates_precision():
    assert [rough_duration(s) for s in (0.2, 42.4, 90, 3_000, 5_400, 20_410)] == \
        ["1 s", "42 s", "2 min", "50 min", "1 h 30 min", "5 h 40 min"]
