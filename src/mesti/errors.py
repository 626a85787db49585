"""The one error type users see: bad input, named by the clip or file it came from."""

from __future__ import annotations


class MestiError(ValueError):
    """Bad input: the CLI prints ``error: <where>: <what>`` on one line and exits with code 2.

    ``where`` names the clip, file or option at fault so a user can find it in a dataset of
    thousands of clips; ``what`` says what is wrong with it.
    """

    exit_code = 2

    def __init__(self, where: str | object, what: str) -> None:
        self.where = str(where)
        self.what = what
        super().__init__(f"{self.where}: {what}")
