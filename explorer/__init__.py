"""What the pages need from the engine, prepared for showing: run tables, diffs and links
(compare, compare_links, links), metrics and axes for charts (metrics, epochs, perplexity), grid
cells and effects (grid_view), the lesson's pictures (lesson), text views and Generate's inputs
(textview, sampling_settings), uploads (uploads). Free of streamlit like lmcore, and free of
training: lmcore is the engine, explorer the app's view of it, ui/ and app_pages/ the widgets."""
