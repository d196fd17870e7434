"""What the pages need from the engine, prepared for showing: run tables and diffs (compare),
links for configs (links), metrics for charts (metrics), the lesson's pictures (lesson), text
views (textview), uploads (uploads). Free of streamlit like lmcore, and free of training:
lmcore is the engine, explorer the app's view of it, ui/ and app_pages/ the widgets."""
