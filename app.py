"""LSTM LM Explorer: the Streamlit entry point. Navigation and the shared sidebar, nothing heavy.

Run with `streamlit run app.py`. Pages live in app_pages/ and are listed once, here: a folder
named pages/ would also be served by Streamlit on its own, so a fresh server's first deep link
would skip this file's navigation and sidebar.
"""

from pathlib import Path

import streamlit as st

import ui
from ui import address, history

st.set_page_config(page_title="LSTM LM Explorer", page_icon="🧠", layout="wide")
# A style-only st.html draws nothing. The rules, each with its reason, are in ui/app.css.
st.html(Path(__file__).parent / "ui" / "app.css")
history.guard()

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
address.note_strays(page, PAGES)
page.run()
