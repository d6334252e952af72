"""Subcommands of the studio CLI, one module each."""
