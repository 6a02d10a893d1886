"""Subcommands of the ``dacs`` command, one module each."""
