"""lmcore: the training engine of the LSTM LM Explorer.

Imports torch, numpy and pandas; never streamlit. The app talks to it only through run
folders (see docs/design.md) and pure functions.
"""

__version__ = "0.1.0"
