"""Inside the model: where each dropout placement drops (masks drawn by the engine itself),
the masks a run actually used, and what tying the embedding to the decoder saves."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

import ui
from explorer import lesson
from lmcore.config import PLACEMENT_HELP, from_dict
from lmcore.data import vocab_size_for
from lmcore.errors import ConfigError, RunError
from lmcore.presets import PRESETS
from lmcore.runs import read_json
from lmcore.summaries import RunSummary, summary_of
from ui import address, history, plots, staleness
from ui.inside_figures import (
    PARAMS_TITLE,
    legend,
    mask_figure,
    mask_title,
    no_dropout_box,
    params_figure,
    survival_figure,
)

INSIDE_P = "inside.p"
INSIDE_P_RECURRENT = "inside.p_recurrent"
INSIDE_STEPS = "inside.steps"
INSIDE_UNITS = "inside.units"
INSIDE_LAYER = "inside.layer"
INSIDE_SEED = "inside.seed"
SEED_MAX = 10**6
INSIDE_RUN = "inside.run"
INSIDE_URL_RUN = "inside.url_run"     # the ?run= value last applied, so a new link wins once
INSIDE_SHOWN_UNITS = "inside.shown_units"
MASK_HEIGHT = 320                     # a run's mask chart whose title has three lines
INSIDE_COUNT_FOR = "inside.count_for"
INSIDE_TAB = "inside.tab"
INSIDE_URL_TAB = "inside.url_tab"     # the (tab, run) of the URL last applied or written
INSIDE_MASKS = "inside.masks"          # (path, mtime, size) and the arrays read from it
MASKS_EVERY = 2                        # seconds between looks at a training run's masks.npz
LESSON_TAB, RUN_TAB, PARAMS_TAB = "🎭 Dropout placements", "🔎 A run's masks", "🧮 Parameters & tying"

LAYERS = 2  # the lesson draws the book's 2-layer network
ui.init_state({INSIDE_P: 0.5, INSIDE_P_RECURRENT: 0.5, INSIDE_STEPS: 20, INSIDE_UNITS: 16,
               INSIDE_LAYER: LAYERS, INSIDE_SEED: 0, INSIDE_SHOWN_UNITS: 64})


# ---------------------------------------------------------------- (a) the lesson


def lesson_controls() -> None:
    # A row that wraps at each control's own width: six fixed columns cut the labels, the layer
    # choice and the button short on a 1024 px projector.
    # Each takes its kept value as its default too (ui.index_of says why): a masks tab's refresh or the
    # sidebar's would otherwise bring back p 0, 5 time steps and no layer after a fresh mount.
    state = st.session_state
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.slider("p (inputs and outputs)", 0.0, 0.9, value=state[INSIDE_P], step=0.05, key=INSIDE_P,
                  persist_state="session", width=180,
                  help="The share of units dropped on each layer's input (the embedding, or the layer below) and on "
                  "the last layer's output: Train's **Dropout ratio** (`dropout`).")
        st.slider("p recurrent (h(t-1) → h(t))", 0.0, 0.9, value=state[INSIDE_P_RECURRENT], step=0.05,
                  key=INSIDE_P_RECURRENT, persist_state="session", width=190,
                  help="The share of units dropped on the path from one time step's hidden state to the next "
                  "(horizontal and variational only): Train's **Recurrent ratio** (`dropout_recurrent`; "
                  "\"Same as dropout\" uses p).")
        st.slider("time steps", 5, 50, value=state[INSIDE_STEPS], key=INSIDE_STEPS, persist_state="session",
                  width=150,
                  help="How many words of one sequence the masks cover: the columns of each picture. Training "
                  "unrolls `bptt` steps (35 in the book): backpropagation through time follows each gradient back at "
                  "most that many words, to the start of its window, before the weights are updated. Past `bptt` "
                  "steps, training would already be in the next window, with new variational masks.")
        st.slider("units", 4, 64, value=state[INSIDE_UNITS], key=INSIDE_UNITS, persist_state="session", width=150,
                  help="How many of a layer's units the pictures show: their rows (the book's layers have 650).")
        st.segmented_control("layer shown", [1, 2], default=state[INSIDE_LAYER], key=INSIDE_LAYER, required=True,
                             persist_state="session",
                             help="Which LSTM layer's masks: layer 1's input is the embedding; the output mask "
                             "comes only after the last layer.")
        st.number_input("seed", 0, SEED_MAX, value=state[INSIDE_SEED], key=INSIDE_SEED, persist_state="session",
                        width=110, help="The random draw: the same seed draws the same masks again.")
        st.button("🎲 New masks", on_click=_next_seed, help="The next seed: new masks at the same p.")


def _next_seed() -> None:
    # After the last seed comes 0 again, on purpose: any other seed draws new masks, which is all it promises.
    st.session_state[INSIDE_SEED] = (st.session_state[INSIDE_SEED] + 1) % (SEED_MAX + 1)


def lesson_grid_view(grid: dict, p: float, p_recurrent: float, layer: int) -> None:
    for column, placement in zip(st.columns(3), lesson.LESSON_PLACEMENTS):
        column.markdown(f"### {placement}")
        column.caption(PLACEMENT_HELP[placement])
    for site in lesson.SITES:
        # The site heads its row: a fourth, narrow column for it broke "recurrent" mid-word at 1024 px.
        where = lesson.site_title(site, layer, LAYERS) if site != "output" or layer == LAYERS \
            else "only after the last layer"
        st.markdown(f"#### {site} <small style='font-weight:normal'>· {where}</small>", unsafe_allow_html=True)
        for column, placement in zip(st.columns(3, vertical_alignment="center"), lesson.LESSON_PLACEMENTS):
            mask = grid[placement][site]
            with column:
                if mask is None:
                    no_dropout_box(lesson.why_no_mask(placement, site, layer, LAYERS, p, p_recurrent))
                    continue
                title = mask_title(f"kept {lesson.kept_fraction(mask):.0%}", f"{placement} · {site}")
                plots.show(mask_figure(mask, title), f"inside.lesson.{placement}.{site}")


def recurrent_text(cfg) -> str:
    """'recurrent p = 0.3', or for a placement that drops nothing there 'no recurrent dropout (vertical
    never drops there)': 'recurrent p = 0' read as a setting of a run whose dropout_recurrent was unset."""
    if cfg.dropout_placement in ("horizontal", "variational"):
        return f"recurrent p = {cfg.recurrent_dropout:g}"
    if cfg.dropout_placement == "none":
        return "no dropout anywhere"
    return f"no recurrent dropout ({cfg.dropout_placement} never drops there)"


def odds_text(share: float) -> str:
    """' (about 1 in 1,000,000)' for a share below 1%, to two figures, else '': 9.5e-07 on a slide says
    nothing to a class (QA round 12)."""
    if not 0 < share < 0.01:
        return ""
    odds = 1 / share
    step = 10 ** max(math.floor(math.log10(odds)) - 1, 0)
    return f" (about 1 in {round(odds / step) * step:,})"


def lesson_text(p_recurrent: float, steps: int, grid: dict) -> None:
    survive = (1 - p_recurrent) ** steps
    st.metric(f"one unit kept at all {steps} fresh masks", f"{survive:.2g}",
              help=f"(1 - p recurrent)^(time steps) = (1 - {p_recurrent:g})^{steps}")
    st.markdown(
        "**Why noise on the recurrent path adds up.** At every step the gates read the previous step's h. "
        "The mask sits on that input only: the cell c carries its values from step to step unmasked "
        "(c(t) = f·c(t−1) + i·g). With a fresh mask at every step (horizontal), each step multiplies in "
        f"new, independent noise: one unit of h reaches the gates at t steps in a row "
        f"only with probability (1 − p recurrent)^t — here {1 - p_recurrent:.2f}^{steps} = "
        f"**{survive:.2g}**{odds_text(survive)}. " + lesson.survival_verdict(p_recurrent, survive))
    st.markdown(
        "**What variational keeps fixed.** One mask per sequence (a training window of `bptt` words), "
        "reused at every step of it: the recurrent path always loses the *same* units, so the others carry "
        "information undisturbed from the window's first step to its last (rows of the variational "
        "heatmaps are all bright or all dark). "
        "Gal & Ghahramani 2016.")
    kept = {pl: grid[pl]["recurrent"] for pl in ("horizontal", "variational") if grid[pl]["recurrent"] is not None}
    if kept:
        st.caption(" · ".join(f"{pl}: {round(lesson.path_survival(m)[-1] * m.shape[1])} of {m.shape[1]} "
                              f"units kept at all {m.shape[0]} steps" for pl, m in kept.items()))


def lesson_tab() -> None:
    st.markdown("The masks below are drawn by the engine's own dropout code (`lmcore.dropout`) for one "
                f"sequence of the book's {LAYERS}-layer network: the same code that drops units during training.")
    lesson_controls()
    state = st.session_state
    p, p_recurrent, steps = state[INSIDE_P], state[INSIDE_P_RECURRENT], state[INSIDE_STEPS]
    layer = state[INSIDE_LAYER] or 1
    grid = lesson.lesson_grid(p, p_recurrent, steps, state[INSIDE_UNITS], layer, LAYERS, state[INSIDE_SEED])
    legend()
    lesson_grid_view(grid, p, p_recurrent, layer)
    st.divider()
    # The chart goes beside the text where both fit, below it on a 1024 px page with the sidebar
    # open (two columns there squeezed the text into a strip and cut the metric's label).
    with st.container(horizontal=True, gap="medium"):
        with st.container(width=340):
            lesson_text(p_recurrent, steps, grid)
        plots.show(survival_figure(p_recurrent, steps, grid), "inside.survival")


# ---------------------------------------------------------------- (b) a run's masks


def pick_run(summaries: list[RunSummary]) -> RunSummary:
    """The run chosen in the select box; ?run=ID in the URL preselects it."""
    by_id = {s.id: s for s in summaries}
    warn_unknown_run(by_id, "Pick one below.")
    return by_id[ui.run_select(by_id, INSIDE_RUN, INSIDE_URL_RUN)]


def warn_unknown_run(by_id: dict, instead: str) -> None:
    """The link's ?run= names no run here: say so on whichever tab opens (the parameters tab counted
    another run without a word, QA round 11)."""
    wanted = st.query_params.get("run")
    if wanted and wanted not in by_id:
        st.warning(f"There is no run `{ui.safe_id(wanted)}` in `{ui.runs_root()}`. {instead}")
        address.offer_named_run(wanted)


def run_config(summary: RunSummary):
    """The run's Config, or None with a warning when config.json is missing or invalid."""
    if not summary.config:
        st.warning(f"{summary.id}: config.json is missing or unreadable, so its masks and parameters "
                   "cannot be explained.")
        return None
    try:
        return from_dict(summary.config)
    except ConfigError as error:
        st.warning(f"{summary.id}: its config.json is not valid here: {error}")
        return None


def run_masks(summary: RunSummary, cfg) -> None:
    if not lesson.has_dropout(cfg):
        st.info(f"This run trained **without dropout** (placement `{cfg.dropout_placement}`, p = {cfg.dropout:g}): "
                "no unit was ever dropped, so there are no masks to show. Pick a run with dropout, or compare "
                "it with one on the Compare page.")
        return
    try:
        arrays = masks_of(summary.path / "masks.npz")
    except RunError as error:
        st.warning(f"The masks of this run cannot be shown: {error}")
        return
    if not arrays:
        st.warning("This run has no masks.npz yet: the engine writes it at every validation, so it appears "
                   "after the first evaluation.")
        return
    st.markdown(f"The masks the engine used in its latest training step before the last validation, for the "
                f"first sequence of the batch (placement **{cfg.dropout_placement}**, p = {cfg.layer_dropout:g}, "
                f"{recurrent_text(cfg)}).")
    table = pd.DataFrame(lesson.mask_rows(arrays, cfg))
    st.dataframe(table, hide_index=True, key="inside.mask_table", column_config={
        "kept fraction": st.column_config.NumberColumn(format="%.3f"),
        # "(expected)" in the tooltip: in the header it ran the table past a 1024 px page's edge.
        "1 - p": st.column_config.NumberColumn("1 - p", format="%.3f",
                                               help="The kept fraction expected: 1 - the site's dropout ratio")})
    mask_pictures(arrays, cfg)


def masks_of(path) -> dict | None:
    """lesson.read_masks, reread only when the file changed: a training run rewrites masks.npz at
    every validation, and the live view looks every few seconds."""
    try:
        stat = path.stat()
    except OSError:
        return None
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = st.session_state.get(INSIDE_MASKS)
    if cached is None or cached[0] != stamp:
        cached = (stamp, lesson.read_masks(path))
        st.session_state[INSIDE_MASKS] = cached
    return cached[1]


def live_masks(run_id: str) -> None:
    """A training run's masks, redrawn every MASKS_EVERY seconds (its first masks.npz, then each
    validation's). Once the run has ended the whole page reruns, which draws them without refreshing."""
    staleness.heartbeat(MASKS_EVERY)
    folder = ui.run_folder(run_id)
    summary = summary_of(folder) if folder is not None else None
    if summary is None or not summary.is_active:
        st.rerun()
        return
    cfg = run_config(summary)
    if cfg is not None:
        run_masks(summary, cfg)


def mask_pictures(arrays: dict, cfg) -> None:
    units = max(a.shape[1] for a in arrays.values())
    if units > 8:
        st.session_state[INSIDE_SHOWN_UNITS] = min(max(st.session_state[INSIDE_SHOWN_UNITS], 8), units)
        st.slider("units shown", 8, units, value=st.session_state[INSIDE_SHOWN_UNITS], key=INSIDE_SHOWN_UNITS,
                  help="Each chart's kept share counts the units it draws, and then all units, as the table "
                       "above does", persist_state="session")
    shown = min(st.session_state[INSIDE_SHOWN_UNITS], units)
    legend()
    for layer in range(1, cfg.layers + 1):
        columns = st.columns(3)
        for column, site in zip(columns, lesson.SITES):
            key = f"layer{layer}.{site}"
            with column:
                if key not in arrays:
                    if site == "output" and layer != cfg.layers:
                        continue
                    no_dropout_box(f"{key}: " + lesson.why_no_mask(cfg.dropout_placement, site, layer, cfg.layers,
                                                                    cfg.layer_dropout, cfg.recurrent_dropout))
                    continue
                mask = arrays[key]
                title = run_mask_title(key, mask, shown, cfg)
                # Each line past the three of a whole mask's title gets its room, so every heatmap keeps one size.
                height = MASK_HEIGHT + 18 * max(0, title.count("<br>") - 2)
                plots.show(mask_figure(mask[:, :shown], title, height=height), f"inside.run.{key}")


def run_mask_title(key: str, mask, shown: int, cfg) -> str:
    """A run's mask chart's title. Its share counts the cells drawn, so a teacher counting them gets its number:
    over the whole mask it read 'kept 49.3%' above 64 of 256 units that keep 48.4% (QA). The whole mask's
    share, the table's, follows. Short lines: a chart a third of an 800 px page wide is 155 px, and
    '1-p = 50% · units 1–64 of 256' was cut to '... of 25', a wrong number (QA round 12)."""
    units, ratio = mask.shape[1], f"1-p = {1 - lesson.site_ratio(key, cfg):.0%}"
    if shown >= units:
        return mask_title(f"kept {lesson.kept_fraction(mask):.1%}", key, ratio)
    return mask_title(f"kept {lesson.kept_fraction(mask[:, :shown]):.1%}", f"of units 1–{shown}, drawn",
                      f"of all {units} units: {lesson.kept_fraction(mask):.1%}", key, ratio)


def run_tab(summaries: list[RunSummary]) -> str | None:
    """The masks of the run picked; returns its id (None without runs)."""
    if not summaries:
        st.info("No runs yet. Start one on the **Start** or **Train** page; its masks appear here after its "
                "first evaluation.")
        return None
    summary = pick_run(summaries)
    # A training run with dropout writes masks.npz at each validation: look again every few seconds. One
    # without dropout never has masks to show, and redrawing it every 2 s cost the server for nothing
    # (QA round 19); follow_shown_run still notices when it ends.
    if summary.is_active and not without_dropout(summary):
        st.fragment(live_masks, run_every=MASKS_EVERY)(summary.id)
        return summary.id
    ui.follow_shown_run(summary)
    cfg = run_config(summary)
    if cfg is not None:
        run_masks(summary, cfg)
    return summary.id


def without_dropout(summary: RunSummary) -> bool:
    """Whether the run's config says it trains without dropout (False where it cannot be read: run_config
    then says why)."""
    try:
        return bool(summary.config) and not lesson.has_dropout(from_dict(summary.config))
    except ConfigError:
        return False


def chosen_run(summaries: list[RunSummary]):
    """(summary, config) of the run the masks tab shows, or (None, None), without drawing that tab:
    ?run=ID (a link, or its select box, which writes its pick there), else the run the address last
    named (the sidebar's link names none), else its pick kept while the tab is closed, else the newest run."""
    by_id = {s.id: s for s in summaries}
    warn_unknown_run(by_id, "Pick what to count below.")
    for wanted in (st.query_params.get("run"), last_shown()["run"], st.session_state.get(INSIDE_RUN),
                   next(iter(by_id), None)):
        if wanted in by_id:
            return by_id[wanted], run_config(by_id[wanted])
    return None, None


# ---------------------------------------------------------------- (c) parameters and tying


def tying_lesson() -> None:
    book = PRESETS["book"].config()
    vocab = vocab_size_for(book)
    counts = lesson.tying_counts(book, vocab)
    V, H = vocab, book.hidden_size
    st.markdown(
        f"**Why one matrix can be both.** The embedding is a V × H table (for the book: {V:,} × {H}): row w "
        f"is word w's vector. The decoder computes scores = h Wᵀ + b with W of shape V × H ({V:,} × {H}): "
        "row w is the direction h must point in to predict w. Same shape, same meaning — one vector per "
        "word — so when embed_size == hidden_size one V × H matrix can serve both; the model registers "
        f"**one Parameter** used twice. That saves V × H = **{V * H:,}** parameters: the book preset has "
        f"**{counts['untied']['total']:,}** untied and **{counts['tied']['total']:,}** tied "
        f"({counts['saves'] / counts['untied']['total']:.0%} fewer).")


def count_source(summary, cfg) -> tuple:
    """(label, config, vocab size, params.json or None) for the run or a preset, as picked."""
    options = ([f"run:{summary.id}"] if cfg is not None else []) + [f"preset:{n}" for n in PRESETS]
    if st.session_state.get(INSIDE_COUNT_FOR) not in options:
        st.session_state[INSIDE_COUNT_FOR] = options[0] if cfg is not None else "preset:book"
    choice = st.selectbox("Count the parameters of", options,
                          index=ui.index_of(options, st.session_state[INSIDE_COUNT_FOR]), key=INSIDE_COUNT_FOR,
                          persist_state="session",
                          format_func=lambda o: f"this run: {summary.name}" if o.startswith("run:")
                          else f"preset {o[7:]}")
    if choice.startswith("run:"):
        params = _read_params(summary)
        vocab = (params or {}).get("vocab_size") or vocab_size_for(cfg)
        return summary.name, cfg, vocab, params
    preset_cfg = PRESETS[choice[7:]].config()
    return choice[7:], preset_cfg, vocab_size_for(preset_cfg), None


def _read_params(summary: RunSummary) -> dict | None:
    params = read_json(summary.path / "params.json")
    return params if isinstance(params, dict) else None


def params_tab(summary, cfg) -> None:
    tying_lesson()
    label, config, vocab, params = count_source(summary, cfg)
    if not vocab:
        st.warning(f"The vocabulary size of {label} is not known before its data is read (a text file), and "
                   "the run has no params.json yet: parameters cannot be counted.")
        return
    counts = lesson.tying_counts(config, vocab)
    st.caption(f"{label}: vocabulary {vocab:,}, {config.layers} layer(s), embed {config.embed_size}, "
               f"hidden {config.hidden_size}; this {'run' if params else 'config'} uses tying "
               f"**{'on' if config.tie_weights else 'off'}**.")
    left, middle, right = st.columns(3)
    mark = " (this run)" if params else ""
    left.metric("total, tying off" + ("" if config.tie_weights else mark), f"{counts['untied']['total']:,}")
    if counts["possible"]:
        middle.metric("total, tying on" + (mark if config.tie_weights else ""), f"{counts['tied']['total']:,}")
        right.metric("tying saves", f"{counts['saves']:,}",
                     delta=f"-{counts['saves'] / counts['untied']['total']:.1%}", delta_color="inverse")
    else:
        middle.info(f"Tying needs embed_size == hidden_size (here {config.embed_size} and {config.hidden_size}).")
    if params and isinstance(params.get("total"), int):
        st.caption(f"params.json of this run: **{params['total']:,}** parameters as trained.")
    st.markdown(f"**{PARAMS_TITLE}**")
    plots.show(params_figure(lesson.part_rows(counts)), "inside.params")


TAB_SLUGS = {"lesson": LESSON_TAB, "masks": RUN_TAB, "params": PARAMS_TAB}   # ?tab= values
SLUG_OF_TAB = {label: slug for slug, label in TAB_SLUGS.items()}


def opening_tab(query) -> str:
    """The tab a link opens: ?tab=lesson, masks or params (Train's link for a run without dropout says
    params), else with ?run= that run's masks, else the lesson."""
    if query.get("tab") in TAB_SLUGS:
        return TAB_SLUGS[query["tab"]]
    return RUN_TAB if query.get("run") else LESSON_TAB


def url_link() -> tuple:
    return st.query_params.get("tab"), st.query_params.get("run")


def last_shown() -> dict:
    """{"tab", "run"} of the address this page last wrote (None each before it wrote one)."""
    return dict(zip(("tab", "run"), history.last_written("inside") or (None, None)))


def follow_link() -> None:
    """Open the tab a URL names when it is not the one this page last applied or wrote: a new link, a
    reload, or the browser's Back and Forward. Call before the tabs are drawn. Also when the tabs' own
    state is gone: Streamlit drops it on another page, and Back to a params link then opened the lesson
    and wrote tab=lesson over that history entry (QA round 13)."""
    link, state = url_link(), st.session_state
    if link == (None, None) and (history.history_navigation() or state.get(history.ARRIVED, True)):
        # The sidebar's bare address keeps the session's tab (and its run, which run_tab reads from the
        # session), as on Train and Generate: it opened the lesson, and the address lost ?run= (QA round 24).
        shown = last_shown()
        if history.bare_address("inside", {key: value for key, value in shown.items() if value}) is None:
            state[INSIDE_URL_TAB] = link
            state[INSIDE_TAB] = opening_tab(shown)   # what the page wrote opens the tab it showed (tab_in_url)
            return
    if (link != state.get(INSIDE_URL_TAB) and not history.lagging("inside", link)
            or INSIDE_TAB not in state):
        state[INSIDE_URL_TAB] = link
        state[INSIDE_TAB] = opening_tab(st.query_params)


def tab_in_url(shown_run: str | None) -> None:
    """Write the open tab (where the URL would not open it anyway) and, on the masks tab, the run shown
    when the URL names none, in one change: the address then opens what the class sees (QA round 12: a
    tab picked on the projector was not in a copied link). A URL's run is not replaced: a linked run
    that is missing stays named beside its warning, and the select box writes a run picked."""
    query = st.query_params.to_dict()
    tab = st.session_state[INSIDE_TAB]
    if shown_run and "run" not in query:
        query["run"] = shown_run
    query.pop("tab", None)
    if opening_tab(query) != tab:
        query["tab"] = SLUG_OF_TAB[tab]
    if (written := address.to_write("inside", st.query_params.to_dict(), query)) is not None:
        st.query_params.from_dict(written)
    st.session_state[INSIDE_URL_TAB] = url_link()
    history.wrote("inside", url_link())


# ---------------------------------------------------------------- the page

st.title("Inside the model")
st.markdown("Where dropout drops units, the masks a run really used, and what tying the embedding to the "
            "decoder saves.")
address.show()
# Only the open tab is drawn: a lesson slider must not redraw a run's mask charts. A link with
# ?run=ID opens that run's masks.
summaries = ui.all_runs()
follow_link()
# No default=: the tabs take follow_link's pick from the session state. A default that follows the URL
# resets the tabs whenever tab_in_url changes the address.
lesson_view, run_view, params_view = st.tabs([LESSON_TAB, RUN_TAB, PARAMS_TAB], key=INSIDE_TAB, on_change="rerun")
shown = None
if lesson_view.open:
    with lesson_view:
        lesson_tab()
if run_view.open:
    with run_view:
        shown = run_tab(summaries)
if params_view.open:
    with params_view:
        picked, config = chosen_run(summaries)
        params_tab(picked, config)
        shown = picked.id if picked else None
tab_in_url(shown)
