"""LSTM LM Explorer: the Streamlit entry point. Navigation and the shared sidebar, nothing heavy.

Run with `streamlit run app.py`. Pages live in pages/ and are listed once, here.
"""

import streamlit as st

import ui

st.set_page_config(page_title="LSTM LM Explorer", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("pages/start.py", title="Start", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/inside.py", title="Inside the model", icon=":material/biotech:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/edit_note:"),
]

page = st.navigation(PAGES)
ui.sidebar()
page.run()
