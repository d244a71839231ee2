"""Errors meant for people: each names what went wrong and what was expected."""

# Longest rendering of a key or of an offending value in a message: a case file's value may
# be a long list, or a file's content; one line must stay readable, and a message must not
# carry more of a file than a glance (case files and their error lines get shared).
MAX_SHOWN = 100
MAX_KEY = 200           # keys of study files carry the file's path
MAX_EXPECTED = 600


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` on one line (control characters escaped), at most about `limit` characters:
    the start and the end of a longer text (the end of a key or path names the entry)."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    if len(text) <= limit:
        return text
    tail = limit // 3
    return f"{text[:limit - tail - 5]}[...]{text[-tail:]}"


class InputError(Exception):
    """Invalid user input (case file, material data, command line): exit status 2.

    The message names the key, the offending value and what was expected, on one line;
    key and value are shortened (MAX_KEY, MAX_SHOWN characters).
    """

    def __init__(self, key: str, value, expected: str):
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{shorten(key, MAX_KEY)} = {shorten(_repr(value))}: expected "
                         f"{shorten(expected, MAX_EXPECTED)}")


def _repr(value) -> str:
    try:
        return repr(value)
    except RecursionError:                    # a value nested deeper than repr can go
        return f"<a {type(value).__name__} nested too deep to show>"


class SolverError(Exception):
    """The solver could not continue (exit status 3); the message says where and why."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped from outside (SIGINT, SIGTERM, a time limit): `result` holds what was
    computed up to then (a `solver.results.Result`, or None before the first state);
    `where`: the step and the simulated time it stopped at, as solver failures say it."""

    def __init__(self, reason: str, result=None, where: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.result = result
        self.where = where

    @property
    def message(self) -> str:
        return f"{self.reason} in {self.where}" if self.where else self.reason
