"""LSTM LM Explorer: the Streamlit entry point. Navigation and the shared sidebar, nothing heavy.

Run with `streamlit run app.py`. Pages live in app_pages/ and are listed once, here: a folder
named pages/ would also be served by Streamlit on its own, so a fresh server's first deep link
would skip this file's navigation and sidebar.
"""

import streamlit as st

import ui
from ui import history

st.set_page_config(page_title="LSTM LM Explorer", page_icon="🧠", layout="wide")
# Half of Streamlit's 6rem above each page: on a 1280x720 projector Train's live chart began at y 620,
# below a class's view (QA round 12). The current page's sidebar link gets a bar and bold type, and a
# focused link an outline: Streamlit greys both alike, so a Tab press seemed to change page (QA round
# 12). A toggle or a link in the page (Start's recipes, Train's Compare) focused from the keyboard gets the
# same outline: Streamlit's faint grey was lost on a
# projector (QA round 14). On a screen under 1100 px the sidebar takes at most 240 px, not 300 (at 800
# px it held 38% of the width); it can still be dragged narrower. On a phone Compare's filters go two to
# a row, not one under another: five filled the first screen. On a touch screen a table's or chart's
# toolbar (shown there without hovering) stands 44 px above it, over the end of the text before it:
# the element gets that room. A style-only st.html draws nothing.
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:3rem}"
        "[data-testid='stSidebarNavLink'][aria-current='page']{box-shadow:inset 3px 0 0 #1f6feb}"
        "[data-testid='stSidebarNavLink'][aria-current='page'] p{font-weight:600}"
        "[data-testid='stSidebarNavLink']:focus-visible,[data-testid='stPageLink-NavLink']:focus-visible"
        "{outline:2px solid #1f6feb;outline-offset:-2px}"
        "[data-testid='stCheckbox'] label:has(input[role='switch']:focus-visible)"
        "{outline:2px solid #1f6feb;outline-offset:2px;border-radius:4px}"
        "@media (max-width:1100px){[data-testid='stSidebar']{max-width:240px !important}}"
        "@media (max-width:640px){.st-key-compare-filters [data-testid='stColumn']"
        "{min-width:calc(50% - 0.5rem) !important;flex:1 1 calc(50% - 0.5rem) !important}"
        ".st-key-compare-filters [data-testid='stHorizontalBlock']{flex-wrap:wrap}}"
        "@media (hover:none){[data-testid='stElementContainer']:has(> [data-testid='stFullScreenFrame']"
        " [data-testid='stElementToolbar']){margin-top:2.25rem}}</style>")

PAGES = [
    st.Page("app_pages/start.py", title="Start", icon=":material/home:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/inside.py", title="Inside the model", icon=":material/biotech:"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/edit_note:"),
]

page = st.navigation(PAGES)
history.note_page(page.url_path)
ui.sidebar()
page.run()
