"""Command line: no subcommand opens the app; a subcommand runs and exits.

The entry point is cli/main.py. Each command is declared in its own module
(cli/registry.py says how) and cli/commands.py lists them all; a command for
a profile another process serves is handed over its control socket
(cli/control.py, cli/forwarding.py). This file imports nothing: importing any
module of the package runs it first, so it must not import them back."""
