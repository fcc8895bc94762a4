"""Typed errors raised by the library. Only ``seqlab.cli.main`` prints them and exits."""
from __future__ import annotations

from pathlib import Path


class SeqlabError(Exception):
    """Base class of every error seqlab raises on purpose (a user mistake, not a bug)."""


class ConfigError(SeqlabError):
    """A configuration problem; ``problems`` lists every one found, each naming its dotted key."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = f"{where}{self.problems[0]}"
        else:
            listed = "; ".join(self.problems)
            message = f"{where}{len(self.problems)} config problems: {listed}"
        super().__init__(message)


class DataError(SeqlabError):
    """A problem in a data file, located by path and (1-based) line when known."""

    def __init__(self, path: str | Path | None, line: int | None, message: str) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        super().__init__(f"{where}{message}")


class ModelError(SeqlabError):
    """A model directory, checkpoint or model argument that cannot be used."""
