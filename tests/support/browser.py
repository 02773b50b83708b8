"""The headless Chromium the browser test drives, found the way .ci/run installs it.

.ci/run installs Debian's `chromium` package when this lookup finds nothing: it runs this file, which
prints the path and exits 0, or exits 1. CHROMIUM_PATH names another binary (and only that one is
tried). Without a browser the test is skipped loudly; with RUMORMILL_REQUIRE_BROWSER=1 (CI) it fails.

Standard library only, so .ci/run can run it before any virtual environment exists.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PATH_ENV = "CHROMIUM_PATH"
REQUIRE_ENV = "RUMORMILL_REQUIRE_BROWSER"
# Where `apt-get install chromium` puts its launcher on Debian.
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def find_chromium() -> Path | None:
    """CHROMIUM_PATH if set, else Debian's launcher, else a `chromium` on PATH; only an executable file counts."""
    configured = os.environ.get(PATH_ENV)
    if configured:
        candidates = [Path(configured)]
    else:
        on_path = shutil.which("chromium")
        candidates = [DEBIAN_CHROMIUM, *([Path(on_path)] if on_path else [])]
    return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


if __name__ == "__main__":
    found = find_chromium()
    if found is None:
        sys.exit(1)
    print(found)
