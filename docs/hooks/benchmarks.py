"""mkdocs hook: publish benchmarks/ beside the pages, unchanged.

benchmarks/results/README.md, the benchmark tables with their commands, becomes the site's
Results page (mkdocs serves a folder's README.md as its index), and the files it links — the
generated tables (.md), plots (.png), result files (.nc, .json), the sweep configs and the
scripts — are served next to it. The page is therefore no hand-kept copy, and
`mkdocs build --strict` checks its links like any other page's.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = (
    "benchmarks/*.json",
    "benchmarks/*.py",
    "benchmarks/results/*.md",
    "benchmarks/results/*.png",
    "benchmarks/results/*.json",
    "benchmarks/results/*.nc",
    "benchmarks/results/*/*.nc",   # one run's file and log per seed (e.g. mnist_binary/)
    "benchmarks/results/*/*.log",
    "benchmarks/results/*/*/*.nc",  # the same per schedule (e.g. fmnist_thermo_coupled_short/)
    "benchmarks/results/*/*/*.log",
)


def on_files(files, config):
    for pattern in PATTERNS:
        for path in sorted(ROOT.glob(pattern)):
            files.append(File(path.relative_to(ROOT).as_posix(), str(ROOT), config["site_dir"],
                              config["use_directory_urls"]))
    return files
