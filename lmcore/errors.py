"""Errors a user can cause and fix; the CLI prints them as one line each, no traceback."""


NO_SPACE = "no space left on the device of"


def no_space(where) -> str:
    """What a full disk is called, wherever it stops a write (QA round 13: tracebacks)."""
    return f"{NO_SPACE} {where}: free some space"


class LmcoreError(Exception):
    """Base class: a message meant for the user, not a bug."""


class ConfigError(LmcoreError):
    """One or more config values are invalid; each line names the key and what is allowed."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DataError(LmcoreError):
    """A dataset is missing, corrupt, truncated, empty or cannot be downloaded."""


class RunError(LmcoreError):
    """A run folder is missing, broken, or in a state that does not allow the action."""


class FolderGone(RunError):
    """A run folder was deleted or moved (its config.json is gone) while a trainer wrote into it."""
