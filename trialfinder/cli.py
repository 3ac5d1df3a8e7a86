"""Command-line interface (placeholder until the CLI lands)."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """trialfinder: clinical trials for advanced mesothelioma."""


def main() -> None:
    cli()
