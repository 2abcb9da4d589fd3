"""Entry script of the PyInstaller bundle: the same `main` as the
`threads-desktop` console script (a bundle has no console-script shim)."""

from __future__ import annotations

import sys

from threads_desktop.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
