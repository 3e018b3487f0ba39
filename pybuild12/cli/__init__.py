"""Command line: parse, call the core, render, map errors to exit codes.

The only package that imports typer, prints results, or exits. `app` holds the Typer app,
`main` (the entry point) and the error handling; a module per group of commands:
`install` (install, uninstall), `query` (list, which), `devenv` (run, venv, env, pin),
`checks` (doctor, verify, compat), `cache` (the cache and profile groups); `common` holds
what they share, `console` draws the progress of the long ones, `layout` fits a report to
the terminal's width, `usage` writes a command's usage line.
"""

from pybuild12.cli.app import main

__all__ = ["main"]
