"""Generate: text from a trained run, what the model weighed at every word, and how the run's
samples changed during training."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

import ui
from explorer import epochs, sampling_settings, textview
from lmcore import checkpoints
from lmcore.config import stored_problems
from lmcore.errors import RunError
from lmcore.jsonl import read_jsonl
from lmcore.runs import ACTIVE, read_json, read_status
from lmcore.sampling import generate, read_prompt, unknown_fate, whole_text
from lmcore.summaries import RunSummary
from lmcore.text import EOS, shorten
from ui import address, history, plots, staleness

GENERATE_RUN = "generate.run"
GENERATE_URL_RUN = "generate.url_run"   # the ?run= value last applied, so a new link wins once
GENERATE_WHICH = "generate.which"
GENERATE_PROMPT = "generate.prompt"
GENERATE_PROMPT_RUN = "generate.prompt_run"   # (run id, the run's own prompt put in the box, or None if kept)
GENERATE_WORDS = "generate.num_words"
GENERATE_TEMPERATURE = "generate.temperature"
GENERATE_TOP_K = "generate.top_k"
GENERATE_SEED = "generate.seed"
GENERATE_RESULT = "generate.result"     # {"settings": tuple, "result": generate()'s dict}
GENERATE_POSITION = "generate.position"
GENERATE_LINK = "generate.link"         # the settings' query last read from or written to the URL
GENERATE_LINK_NOTE = "generate.link_note"   # {"text", "shown"}: what a link set that was ignored
GENERATE_BUTTON_RUN = "generate.button_run"  # the run the Generate button was last drawn for
# The URL's keys (explorer/sampling_settings.py) and the widgets they set.
LINKED = {"checkpoint": GENERATE_WHICH, "prompt": GENERATE_PROMPT, "words": GENERATE_WORDS,
          "temperature": GENERATE_TEMPERATURE, "top_k": GENERATE_TOP_K, "seed": GENERATE_SEED}

# Top-k and seed are text boxes: a browser number box keeps an out-of-range number to itself
# (a red icon) and the page would go on with the previous value; text reaches the page, which
# clamps it with a note or refuses it in words (explorer/sampling_settings.py).
DEFAULTS = {GENERATE_WHICH: "best", GENERATE_PROMPT: "", GENERATE_WORDS: 30, GENERATE_TEMPERATURE: 1.0,
            GENERATE_TOP_K: "0", GENERATE_SEED: "0", GENERATE_POSITION: 1, GENERATE_RESULT: None}
ui.init_state(DEFAULTS)

CHOSEN, OTHER = "#dc2626", "#94a3b8"
TOP_WORDS = 10      # the most likely words listed at each generated word (fewer when top-k keeps fewer)
WATCH_SECONDS = 3   # how often the page looks for a waiting run's first checkpoint


def saved(run_folder: Path) -> bool:
    """Whether it has best.pt or last.pt (checkpoint_path falls back from the one to the other)."""
    return checkpoints.checkpoint_path(run_folder).exists()


def weights_not_kept(summary: RunSummary) -> str | None:
    """Why a run that is done has no checkpoint (so it will never get one), or None: a shipped
    reference run, or a finished or stopped run whose checkpoints were removed."""
    return None if saved(summary.path) else never_gets_weights(summary)


def never_gets_weights(summary: RunSummary) -> str | None:
    """weights_not_kept's reason for a run already known to have no checkpoint. A stopped run whose
    checkpoints/ folder is still there stopped before it saved one: it is not here but explained
    (ended_without_weights), since Start over can still train it."""
    if summary.is_reference:
        return f"a reference run measured on one {summary.device or 'unknown device'}"
    gone = not (summary.path / "checkpoints").is_dir()
    if summary.state == "finished" or (summary.state == "stopped" and gone):
        return "its checkpoints/ folder is gone" if gone else "its checkpoint files were removed"
    return None


def ended_without_weights(summary: RunSummary) -> str:
    """What a run that is not listed here (no checkpoint, and not one whose weights were merely not
    kept) is doing, to follow "Run NAME ": it may still save one, or it never will."""
    if summary.is_active:
        return "has no checkpoint yet: it saves one at its first validation, and this page shows it then"
    lines = (summary.problem or "").strip().splitlines()   # an error may carry a traceback
    problem = textview.md_escape(shorten(lines[0], 200)) if lines else ""
    if summary.is_broken:
        return f"cannot be read ({problem or 'its folder is damaged'}), so it has no checkpoint to generate from"
    ended = f"{summary.state}: {problem}" if problem else summary.state
    if broken_rules := stored_problems(summary.config or {}):  # an older version let it through; it fails again
        return (f"ended without saving a checkpoint ({ended}); its config breaks a rule: "
                f"{textview.md_escape('; '.join(broken_rules))}. **Edit a copy** on the **Train** page sets it "
                "within its rule (Start over would fail the same way)")
    if lines and lines[0].startswith("diverged"):  # lmcore.divergence's messages; the same config diverges again
        return (f"ended without saving a checkpoint ({ended}); **Edit a copy** on the **Train** page trains its "
                "config again with the change you make (Start over would diverge the same way)")
    return (f"ended without saving a checkpoint ({ended}); **Start over** on the **Train** page trains it "
            "again from step 0")


def run_title(summary: RunSummary) -> str:
    """**name** (`id`), or just `id` for a run known by its id only (a broken one has no name)."""
    if summary.name == summary.id:
        return f"`{summary.id}`"
    return f"**{textview.md_escape(summary.name)}** (`{summary.id}`)"


# ---------------------------------------------------------------- picking a run and a checkpoint


def pick_run(summaries: list[RunSummary]) -> RunSummary | None:
    """The run to generate from (or to read the samples of, when its weights were not kept); ?run=ID
    preselects it. A linked run that is not listed is explained, and the run shown instead named."""
    weighted = {s.id for s in summaries if saved(s.path)}  # a stat or two per run, once a rerun
    ready = {s.id: s for s in summaries if s.id in weighted or never_gets_weights(s)}
    waiting = [s for s in summaries if s.is_active and s.id not in weighted]
    if waiting:
        reload_when_saved(tuple(str(s.path) for s in waiting))
    wanted = st.query_params.get("run")
    known = next((s for s in summaries if s.id == wanted), None)
    notice = st.container()
    if not ready:
        st.info("No run has a checkpoint yet. Start one on the **Start** or **Train** page (`tiny` takes under "
                "a minute); it can write text here after its first validation.")
    chosen = ready[ui.run_select(ready, GENERATE_RUN, GENERATE_URL_RUN)] if ready else None
    if wanted and wanted not in ready:
        # Not applied yet: run_select then selects the linked run once it saves a checkpoint.
        st.session_state.pop(GENERATE_URL_RUN, None)
        why = (f"Run {run_title(known)} {ended_without_weights(known)}." if known else
               f"There is no run `{wanted}` in `{ui.runs_root()}`.")
        shown = f" Showing {run_title(chosen)} instead: pick any run below." if chosen else ""
        (notice.info if known and known.is_active else notice.warning)(why + shown)
        if not known:
            with notice:
                address.offer_named_run(wanted)
    if chosen is not None:
        ui.follow_shown_run(chosen)
    return chosen


@st.fragment(run_every=WATCH_SECONDS)
def reload_when_saved(folders: tuple[str, ...]) -> None:
    """Reruns the page when a run it waits for saves its first checkpoint (the run can then be picked,
    or is shown if linked) or ends without one. Two stats and status.json per waiting run."""
    staleness.heartbeat(WATCH_SECONDS)  # a quiet server would otherwise leave "waiting" on the page for good
    if any(saved(Path(folder)) or read_status(Path(folder)).get("state") not in ACTIVE for folder in folders):
        st.rerun()


def load(folder: Path, which: str):
    """(model, words, payload, checkpoint path) or None after showing why it cannot be loaded."""
    path = checkpoints.checkpoint_path(folder, which)
    if not path.exists():
        st.warning(f"This run has no `{which}.pt` yet (pick the other checkpoint, or wait for the next "
                   "validation or epoch end).")
        return None
    try:
        model, words, payload = ui.model_for(folder, which)
    except RunError as error:
        st.error(f"Cannot load this run's model: {error}")
        return None
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as error:  # a checkpoint from another model
        st.error(f"Cannot load this run's model from `{path.name}`: {str(error).splitlines()[0]}")
        return None
    return model, words, payload, path


def checkpoint_caption(payload: dict, path: Path, which: str, words: list[str]) -> None:
    """'`last.pt` · step 1,192 · epoch 8 · validation perplexity 135.0 (best 80.4 at epoch 2,
    in best.pt) · vocabulary 10,000 words': the checkpoint's own score, so an over-fitted last.pt does not read
    as its best (QA round 10: both read 80.4)."""
    progress = payload.get("progress") or {}
    fallback = " (no best.pt yet, so the latest)" if which == "best" and path.name == "last.pt" else ""
    step, epoch = progress.get("step"), epochs.checkpoint_epoch(progress)
    best_file = path.with_name("best.pt")
    best_step = None if path.name == "best.pt" else (checkpoints.saved_progress(best_file) or (None,))[0]
    scored = textview.checkpoint_validation(progress, ui.metrics_frame(path.parent.parent),
                                            path.name == "best.pt", best_step)
    st.caption(f"`{path.name}`{fallback} · step {ui.fmt_whole(step)} · epoch {epoch or '?'} · {scored} · "
               f"vocabulary {len(words):,} words")


# ---------------------------------------------------------------- settings and the text


def own_prompt(summary: RunSummary, words: list[str]) -> str:
    """The prompt the run's training samples start from when it knows all its words, else none: the
    generated corpus's runs know no `the` (the synthetic preset samples from an empty prompt)."""
    prompt = summary.config.get("sample_prompt", "the")
    prompt = prompt if isinstance(prompt, str) else ""
    return "" if read_prompt(words, prompt)[1] else prompt


def follow_run_prompt(summary: RunSummary, words: list[str]) -> None:
    """Puts the run's own prompt in the box when another run is picked, unless the box holds
    something the user typed (anything but the previous run's own prompt)."""
    state = st.session_state
    before = state.get(GENERATE_PROMPT_RUN)
    if before is not None and before[0] == summary.id:
        return
    untouched = before is None or state[GENERATE_PROMPT] == before[1]
    if untouched:
        state[GENERATE_PROMPT] = own_prompt(summary, words)
    state[GENERATE_PROMPT_RUN] = (summary.id, state[GENERATE_PROMPT] if untouched else None)


def settings(words: list[str]) -> tuple:
    """Prompt, length, temperature, top-k, seed widgets; returns their values, with None for a
    refused top-k or seed (the reason is shown under its box)."""
    # persist_state: the settings come back after a visit to another page (QA round 10: the prompt and
    # temperature reset there, and the text they made read as stale). Each also takes its value as its
    # default (ui.index_of says why): the run's 3 s watch and the sidebar's refresh would otherwise bring
    # back an empty prompt, 1 word at temperature 0.1 and empty top-k and seed after a fresh mount.
    state = st.session_state
    st.text_input("Prompt", value=state[GENERATE_PROMPT], key=GENERATE_PROMPT, persist_state="session",
                  help="words separated by spaces; PTB is lower case; empty: from the start of a sentence. A prompt is "
                       "read from a blank memory, with no end of sentence before it, so it need not start one")
    _, unknown, as_unk = read_prompt(words, st.session_state[GENERATE_PROMPT])
    if unknown:
        fate = unknown_fate(as_unk).replace("<unk>", "`<unk>`")   # the CLI's wording, <unk> as code
        st.warning(f"Not in the vocabulary ({fate}): " + ", ".join(f"`{w}`" for w in unknown))
        if spaced := textview.spaced_suggestions(unknown, words):
            st.caption(textview.prompt_tip(spaced))
    st.slider("Words to generate", *sampling_settings.WORDS, value=state[GENERATE_WORDS], key=GENERATE_WORDS,
              persist_state="session")
    low, high, step = sampling_settings.TEMPERATURE
    st.slider("Temperature", low, high, value=state[GENERATE_TEMPERATURE], step=step, key=GENERATE_TEMPERATURE,
              persist_state="session",
              help="below 1: safer, more repetitive; above 1: more surprising")
    st.text_input("Top-k (0 = all words)", value=state[GENERATE_TOP_K], key=GENERATE_TOP_K, persist_state="session",
                  help=f"sample only among the k most likely next words (their probabilities renormalised); "
                       f"a whole number from 0 to {len(words):,}, this vocabulary's size")
    top_k = checked(sampling_settings.read_top_k(st.session_state[GENERATE_TOP_K], len(words)))
    st.text_input("Seed", value=state[GENERATE_SEED], key=GENERATE_SEED, persist_state="session",
                  help=f"same seed and settings, same text; a whole number from 0 to {sampling_settings.SEED_MAX:,} "
                       "(torch's CPU generator keeps 32 bits of a seed, so larger ones would repeat these)")
    seed = checked(sampling_settings.read_seed(st.session_state[GENERATE_SEED]))
    return (state[GENERATE_PROMPT], state[GENERATE_WORDS], float(state[GENERATE_TEMPERATURE]), top_k, seed)


def checked(reading: tuple) -> int | None:
    """Show a reader's note (refused: an error, clamped: a note) and return its value."""
    value, note = reading
    if note and value is None:
        st.error(note, icon=":material/error:")
    elif note:
        st.info(note, icon=":material/info:")
    return value


def show_text(result: dict, summary: RunSummary, vocabulary_size: int, temperature: float) -> None:
    with st.container(border=True, key=f"{textview.SAMPLE_BOX}output"):   # each line in its own direction
        st.markdown(textview.to_markdown(result["words"], result["prompt"]))
    notes = textview.text_notes(result["prompt"] + result["words"], vocabulary_size, summary.config.get("dataset"),
                                temperature)
    st.caption(" ".join([prompt_caption(result), "A line break is where the model chose `<eos>` (end of sentence).",
                         *notes]))
    with st.expander("Plain text (copy)"):
        st.code(whole_text(result), language=None, wrap_lines=True)   # the prompt too, as `lmcore sample` prints


def prompt_caption(result: dict) -> str:
    """What the bold words are, or, when nothing is bold (the prompt was read as `<eos>` alone),
    why the text starts a sentence."""
    if any(word != EOS for word in result["prompt"]):
        return "**Bold**: the prompt as the model read it."
    if result["unknown"]:
        return "No word of the prompt is in the vocabulary, so it wrote from the start of a sentence."
    return "No prompt: it wrote from the start of a sentence."


def top_figure(step: dict) -> go.Figure:
    frame = textview.top_words(step).iloc[::-1]  # most likely at the top
    figure = go.Figure(go.Bar(
        x=frame["probability"], y=frame["label"], orientation="h",
        marker_color=[CHOSEN if c else OTHER for c in frame["chosen"]],
        text=[textview.fmt_prob(p) for p in frame["probability"]], textposition="outside", cliponaxis=False))
    figure.update_layout(height=380, showlegend=False,
                         margin=dict(l=10, r=40, t=10, b=10), xaxis_title="probability of the next word",
                         xaxis_tickformat=textview.percent_tickformat(frame["probability"].max()),
                         yaxis=dict(tickfont=dict(size=15)))
    return figure


def show_choices(result: dict, temperature: float, top_k: int) -> None:
    steps = result["steps"]
    if not steps:
        return
    st.session_state[GENERATE_POSITION] = min(max(st.session_state[GENERATE_POSITION], 1), len(steps))
    if len(steps) > 1:
        st.select_slider("Generated word", list(range(1, len(steps) + 1)), value=st.session_state[GENERATE_POSITION],
                         key=GENERATE_POSITION, persist_state="session",
                         # The slider draws its labels as markdown: '**bold**' showed as 'bold' (QA round 12).
                         format_func=lambda i: f"{i}: {textview.md_escape(steps[i - 1]['word'])}")
    position = st.session_state[GENERATE_POSITION]
    step = steps[position - 1]
    before = textview.context(result["prompt"], result["words"], position - 1)
    # Above the chart, not its title: a Plotly title does not wrap, and at 800 px '(0.0536%)' was cut to
    # '(0.053' (QA round 12).
    # Isolated: a right-to-left word pulled the closing quote and "(6.78%)" into its run (QA round 18).
    word, after = (textview.isolate(textview.md_escape(text)) for text in (step["word"], before))
    st.markdown(f"**word {position}: it picked “{word}” ({textview.fmt_prob(step['prob'])})**  \n"
                f":gray[after “{after}”]")
    plots.show(top_figure(step), "generate.top")
    st.caption(choices_caption(step, position, temperature, top_k))


def choices_caption(step: dict, position: int, temperature: float, top_k: int) -> str:
    """What the chart's bars are: the most likely words after temperature and top-k, and with top-k
    that no other word could be drawn (generate lists only the words top-k kept)."""
    listed = len(step["top"])
    if top_k and listed < TOP_WORDS:
        bars = (f"The {listed} words top-{top_k} kept at word {position}, after temperature {temperature:g}: "
                f"the distribution it actually sampled from; every other word was cut to 0% and could not be drawn.")
    else:
        bars = (f"The {listed} most likely next words at word {position}, after temperature {temperature:g}"
                f"{f' and top-{top_k}' if top_k else ''}: the distribution it actually sampled from.")
    drawn = (f" Red (▶) is the word it drew, shown below the {listed} because it was not among them."
             if step["word"] not in {w for w, _ in step["top"]} else " Red (▶) is the word it drew.")
    return bars + drawn


def dropped_click(summary: RunSummary, clicked: bool) -> str | None:
    """The run a Generate click was meant for when it is not the run shown now, else None. When the run
    shown is deleted in another tab, the click's rerun shows another run: writing from that one would
    pass its text off as the deleted run's, so the page drops the click and waits for the user."""
    drawn_for = st.session_state.get(GENERATE_BUTTON_RUN)
    st.session_state[GENERATE_BUTTON_RUN] = summary.id
    return drawn_for if clicked and drawn_for not in (None, summary.id) else None


def generator_panel(summary: RunSummary) -> None:
    folder = summary.path
    note = st.empty()
    st.segmented_control("Checkpoint", list(sampling_settings.CHECKPOINTS), default=st.session_state[GENERATE_WHICH],
                         key=GENERATE_WHICH, required=True, persist_state="session",
                         help="best: lowest validation perplexity so far; last: the latest saved")
    which = st.session_state[GENERATE_WHICH] or "best"
    loaded = load(folder, which)
    if loaded is None:
        return
    model, words, payload, path = loaded
    checkpoint_caption(payload, path, which, words)
    follow_run_prompt(summary, words)
    left, right = st.columns([1, 2], gap="large")
    with left:
        chosen = settings(words)
        # No shortcut: its hint took the whole button in this column at 800 px, label and all.
        clicked = st.button("✍️ Generate", type="primary", width="stretch", disabled=None in chosen)
    dropped = dropped_click(summary, clicked)
    settings_in_url(summary, own_prompt(summary, words))
    show_link_note(note)
    key = (str(path), path.stat().st_mtime, *chosen)
    if clicked and not dropped:
        prompt, num_words, temperature, top_k, seed = chosen
        result = generate(model, words, prompt, num_words, temperature, top_k, seed, top=TOP_WORDS)
        st.session_state[GENERATE_RESULT] = {"settings": key, "result": result}
        st.session_state[GENERATE_POSITION] = 1
    stored = st.session_state[GENERATE_RESULT]
    with right:
        if dropped:
            st.warning(f"Nothing was generated: the run you pressed **Generate** for (`{dropped}`) is no "
                       f"longer there. {run_title(summary)} is shown instead; press **Generate** again to "
                       f"write from it, or pick another run above.")
            return
        if not stored or stored["settings"][0] != str(path):
            st.info("Set a prompt and press **Generate**.")
            return
        if stored["settings"] != key:
            st.caption("⚠️ The settings (or the checkpoint) changed since this text was generated: press "
                       "**Generate** again.")
        _, _, _, _, temperature, top_k, _ = stored["settings"]
        show_text(stored["result"], summary, len(words), temperature)
        show_choices(stored["result"], temperature, top_k)


# ---------------------------------------------------------------- the settings in the URL


def apply_settings_link(summary: RunSummary) -> None:
    """Set the widgets to what a new link names, once (the query applied is remembered), so the user
    can change them afterwards. A link is the view as its sender saw it: a setting it leaves out was at
    its default, a prompt it leaves out the run's own. A URL without settings keeps the session's when
    the sidebar led here, and means the defaults on Back or Forward (ui/history.py). Call before the
    widgets are drawn."""
    query = _settings_in_address() or history.bare_address("generate", st.session_state.get(GENERATE_LINK))
    if query is None or query == st.session_state.get(GENERATE_LINK) or history.lagging("generate", query):
        return
    values, ignored = sampling_settings.settings_from_link(query)
    for key, value in values.items():
        st.session_state[LINKED[key]] = str(value) if key in ("top_k", "seed") else value
    if "prompt" in values:
        st.session_state[GENERATE_PROMPT_RUN] = (summary.id, None)   # the link's prompt stays, as if typed
    else:
        st.session_state.pop(GENERATE_PROMPT_RUN, None)              # follow_run_prompt puts the run's own
    st.session_state[GENERATE_LINK] = query
    note = sampling_settings.link_note(ignored)
    st.session_state[GENERATE_LINK_NOTE] = {"text": note, "shown": None} if note else None


def _settings_in_address() -> dict[str, str]:
    return {key: st.query_params[key] for key in sampling_settings.LINK_KEYS if key in st.query_params}


def settings_in_url(summary: RunSummary, own: str) -> None:
    """Write the run and the settings that differ from their defaults into the URL, in one change; a
    value the link reader would refuse (a typed `ten`) leaves the last good one there."""
    state = st.session_state
    wanted = sampling_settings.settings_query({key: state[name] for key, name in LINKED.items()}, own)
    current = st.query_params.to_dict()
    query = {key: value for key, value in current.items() if key not in sampling_settings.LINK_KEYS}
    query.setdefault("run", summary.id)   # a linked run still without a checkpoint keeps its place
    for key, value in wanted.items():
        if value is None and key in current:
            query[key] = current[key]
        elif value is not None:
            query[key] = value
    if (written := address.to_write("generate", current, query)) is not None:
        st.query_params.from_dict(written)
    if "run" not in current:
        state[GENERATE_URL_RUN] = summary.id   # written here, not a new link for run_select
    settings = {key: query[key] for key in sampling_settings.LINK_KEYS if key in query}
    state[GENERATE_LINK] = settings         # written here, so not applied again as a new link
    history.wrote("generate", settings)
    note = state.get(GENERATE_LINK_NOTE)
    if note and note["shown"] is None:
        note["shown"] = settings            # what the link led to; a change from it ends the note
    elif note and note["shown"] != settings:
        state[GENERATE_LINK_NOTE] = None


def show_link_note(place) -> None:
    """The link's note on ignored values, while the settings are still the ones it led to."""
    note = st.session_state.get(GENERATE_LINK_NOTE)
    if note:
        place.caption(note["text"])


# ---------------------------------------------------------------- the sample history


def sample_history(summary: RunSummary) -> None:
    folder = summary.path
    # Neutral: a run that over-fits writes worse text at the end than at its best epoch.
    st.subheader("How its text changed during training")
    history = textview.sample_history(read_jsonl(folder / "samples.jsonl"), ui.metrics_frame(folder))
    if not history:
        st.info("No samples yet: the engine writes one after every validation.")
        return
    first = history[0]
    start = (f"with prompt “{first['prompt']}”" if first["prompt"].strip() not in ("", EOS) else
             "from the start of a sentence")
    shown = [w for item in history for w in (item["prompt"] + " " + item["text"]).split()]
    notes = textview.text_notes(shown, vocabulary_size(folder), summary.config.get("dataset"))
    st.caption(" ".join([f"One sample per validation, always {start}, temperature {first['temperature']} and the "
                         "run's seed, so only the model changes.", *notes]))
    with st.container(height=460 if len(history) > 5 else "content", border=False):
        for number, item in enumerate(history):
            # A line above the text, not a column beside it: at 1024 px a sixth of the row wrapped the
            # label to five lines ("step 149 · / epoch 1 / validation / perplexity / 88.7").
            with st.container(border=True, key=f"{textview.SAMPLE_BOX}history-{number}"):
                st.markdown(history_label(item))
                st.markdown(textview.to_markdown(item["text"].split(), item["prompt"].split()))


def vocabulary_size(folder: Path) -> int | None:
    """The words in a run's vocab.json (the history shows without loading a model), None if unreadable."""
    words = read_json(folder / "vocab.json")
    return len(words) if isinstance(words, list) else None


def history_label(item: dict) -> str:
    """One sample's step, epoch and validation perplexity, in grey above its text."""
    return (f":gray[**step {item['step']:,}** · epoch {item['epoch']} · "
            f"validation perplexity **{ui.fmt_ppl(item['val_ppl'])}**]")


# ---------------------------------------------------------------- the page

st.title("Generate")
st.markdown("Let a trained run write, see which words it weighed at every step, and watch its samples "
            "change over training.")
address.show()
picked = pick_run(ui.all_runs())
if picked is not None and (gone := weights_not_kept(picked)):
    st.info(f"This run's weights were not kept ({gone}); its samples during training are below.",
            icon=":material/history:")
    sample_history(picked)
elif picked is not None:
    apply_settings_link(picked)
    generator_panel(picked)
    st.divider()
    sample_history(picked)
