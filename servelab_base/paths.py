"""Where things live in a checkout: the project root, the gitignored cache, the datasets."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout's root (this file is servelab_base/paths.py). Override with SERVELAB_ROOT.
ROOT = Path(os.environ.get("SERVELAB_ROOT", Path(__file__).resolve().parent.parent))
#: Generated data (converted model, built llama.cpp, stack logs): gitignored, rebuilt by set-up.
CACHE = Path(os.environ.get("SERVELAB_CACHE", ROOT / ".cache"))
DATASETS = ROOT / "datasets"
LABS = ROOT / "labs"
SOLUTIONS = ROOT / "solutions"
GRADING = ROOT / "grading"
