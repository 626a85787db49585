"""The one error type users see: bad input, named by the clip or file it came from."""

from __future__ import annotations

import errno


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

    def __reduce__(self) -> tuple[type[MestiError], tuple[str, str]]:
        # Raised in a worker process (prepare -j, a Ray task) it must arrive whole: the default
        # pickling calls __init__ with the one message and fails ("UnserializableException").
        return type(self), (self.where, self.what)


#: errno values that mean "the disk is full" (ENOSPC, EDQUOT).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def from_os_error(exc: OSError, where: str | object | None = None) -> MestiError:
    """An operating-system error about a path (full disk, name too long, no permission, a
    folder that cannot be made) as the one-line :class:`MestiError` users see."""
    place = where if where is not None else (exc.filename if exc.filename is not None else "mesti")
    if exc.errno in DISK_FULL:
        return MestiError(place, "no space left on the device; what was being written there was removed "
                                 "(finished outputs are kept): free some space and re-run the same command")
    if exc.errno == errno.ENAMETOOLONG:
        return MestiError(place, "the name is too long for the file system (at most 255 bytes per name)")
    reason = exc.strerror or str(exc)
    return MestiError(place, f"cannot read or write here ({reason})")
