import streamlit as st

st.title("generate")
