"""A command's usage line as its Arguments section and the rest of the help write it."""

from __future__ import annotations

from typer.core import TyperCommand


class PlainUsage(TyperCommand):
    """Names a required argument NAME in the usage line, as click and the help's own
    Arguments section do; typer 0.2x writes it {NAME}, which reads as a set to choose from
    (`pybuild12 cache trust {PUBKEY}`). An optional one stays [NAME]."""

    def collect_usage_pieces(self, ctx):
        return [piece[1:-1] if piece[:1] == "{" and piece[-1:] == "}" else piece
                for piece in super().collect_usage_pieces(ctx)]
