"""Clean 100,000 files: cleanup_temporary_files against `find DIR -type f -mtime +N -delete`.

    python -m bench.cleanup [--files N]

Both delete the same freshly made tree (100 directories, files aged 10 days) under a
temporary root; half the files are old, half new, so both must look at every file.
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import machine, setup_without_reset, table

setup_without_reset()

from django.conf import settings  # noqa: E402

from maintenance.cleanup import cleanup_temporary_files  # noqa: E402

DAY = 86400


def make_tree(root: Path, files: int) -> None:
    old = time.time() - 10 * DAY
    for i in range(files):
        directory = root / f"d{i % 100:03d}"
        directory.mkdir(exist_ok=True)
        path = directory / f"f{i}.tmp"
        path.write_bytes(b"x")
        if i % 2 == 0:
            os.utime(path, (old, old))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    files = parser.parse_args().files
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "tmp"
        root.mkdir()
        settings.MAINTENANCE_CLEANUP_ROOTS = [root]

        make_tree(root, files)
        start = time.perf_counter()
        subprocess.run(["find", str(root), "-type", "f", "-mtime", "+7", "-delete"], check=True)
        find_seconds = time.perf_counter() - start
        left_by_find = sum(len(f) for _, _, f in os.walk(root))

        make_tree(root, files)
        start = time.perf_counter()
        result = cleanup_temporary_files(root, max_age_days=7)
        ours = time.perf_counter() - start
        left_by_ours = sum(len(f) for _, _, f in os.walk(root))

    assert left_by_find == left_by_ours == files // 2, (left_by_find, left_by_ours)
    table(
        f"Clean {files:,} files, half of them old ({machine()})",
        ["method", "seconds", "files deleted", "files/s", "ratio"],
        [
            [
                "find -type f -mtime +7 -delete",
                f"{find_seconds:.2f}",
                files // 2,
                f"{files / 2 / find_seconds:,.0f}",
                "1.0x",
            ],
            [
                "cleanup_temporary_files",
                f"{ours:.2f}",
                result.files_deleted,
                f"{result.files_deleted / ours:,.0f}",
                f"{ours / find_seconds:.1f}x",
            ],
        ],
    )


if __name__ == "__main__":
    main()
