import streamlit as st

st.title("inside")
