"""The Compare page's shareable views: `?runs=a,b` (the runs shown side by side) and `?group=G`
(the ablation grid shown), read from a link and written back as the selection changes.

A link is text from anyone: ids are only ever looked up among the runs on disk, never used as
paths, and what is not found is named in one line and otherwise ignored.
"""

from __future__ import annotations

from lmcore.text import shorten

MAX_NAMED = 3  # the ignored ids a note spells out; the rest are counted


def runs_value(run_ids: list[str]) -> str:
    """The `runs` query value for a selection: ids joined by commas, in selection order."""
    return ",".join(run_ids)


def runs_from_link(text: str | None, known: set[str]) -> tuple[list[str], list[str]]:
    """(the known ids in the link's order without repeats, the ids that are not runs here)."""
    found, ignored = [], []
    for run_id in (part.strip() for part in (text or "").split(",")):
        if not run_id or run_id in found or run_id in ignored:
            continue
        (found if run_id in known else ignored).append(run_id)
    return found, ignored


def ignored_note(ignored: list[str], what: str = "run") -> str | None:
    """'The link names 2 runs that are not here (ignored): abc, xyz.' or None."""
    if not ignored:
        return None
    named = ", ".join(f"`{shorten(item)}`" for item in ignored[:MAX_NAMED])
    more = f" and {len(ignored) - MAX_NAMED} more" if len(ignored) > MAX_NAMED else ""
    plural = "s that are" if len(ignored) > 1 else " that is"
    return f"The link names {len(ignored)} {what}{plural} not here (ignored): {named}{more}."
