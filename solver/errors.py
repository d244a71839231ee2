"""Errors meant for people: each names what went wrong and what was expected."""


class InputError(Exception):
    """Invalid user input (case file, material data, command line): exit status 2.

    The message names the key, the offending value and what was expected, on one line.
    """

    def __init__(self, key: str, value, expected: str):
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{key} = {value!r}: expected {expected}")


class SolverError(Exception):
    """The solver could not continue (exit status 3); the message says where and why."""
