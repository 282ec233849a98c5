"""cleanup_temporary_files on a real directory tree, including hostile ones."""

import os
import time

import pytest

from maintenance.cleanup import CleanupRefused
from maintenance.utils import cleanup_temporary_files

DAY = 86400


def make_file(path, *, age_days: float, size: int = 10):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_days * DAY
    os.utime(path, (then, then))
    return path


@pytest.fixture
def tmp_root(media_root):
    root = media_root / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    yield root
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            os.unlink(os.path.join(dirpath, name))
        for name in dirnames:
            path = os.path.join(dirpath, name)
            os.unlink(path) if os.path.islink(path) else os.rmdir(path)


def test_old_files_go_new_files_stay_and_emptied_dirs_are_removed(tmp_root):
    old = make_file(tmp_root / "a" / "b" / "old.tmp", age_days=8, size=100)
    new = make_file(tmp_root / "a" / "new.tmp", age_days=1)
    result = cleanup_temporary_files(tmp_root, max_age_days=7)
    assert not old.exists()
    assert new.exists()
    assert not (tmp_root / "a" / "b").exists()
    assert (result.files_deleted, result.bytes_freed, result.dirs_removed) == (1, 100, 1)
    assert tmp_root.exists()


def test_dry_run_lists_and_deletes_nothing(tmp_root):
    old = make_file(tmp_root / "old.tmp", age_days=30)
    result = cleanup_temporary_files(tmp_root, max_age_days=7, dry_run=True)
    assert result.deleted == [str(old)]
    assert old.exists()


def test_a_link_to_outside_never_deletes_outside(tmp_root, tmp_path):
    outside = tmp_path / "precious"
    victim = make_file(outside / "data.db", age_days=100)
    (tmp_root / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (tmp_root / "link-to-file").symlink_to(victim)
    make_file(tmp_root / "old.tmp", age_days=100)
    result = cleanup_temporary_files(tmp_root, max_age_days=7)
    assert victim.exists()
    assert (tmp_root / "link-to-dir").is_symlink()
    assert (tmp_root / "link-to-file").is_symlink()
    assert result.files_deleted == 1


def test_a_root_that_is_a_link_to_outside_is_refused(tmp_root, tmp_path):
    outside = tmp_path / "elsewhere"
    make_file(outside / "old.tmp", age_days=100)
    (tmp_root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CleanupRefused, match="outside the allowed cleanup roots"):
        cleanup_temporary_files(tmp_root / "escape", max_age_days=7)
    assert (outside / "old.tmp").exists()


def test_dot_dot_out_of_the_root_is_refused(tmp_root):
    with pytest.raises(CleanupRefused, match="outside the allowed cleanup roots"):
        cleanup_temporary_files(tmp_root / ".." / "..", max_age_days=0)


def test_a_root_outside_the_allowed_roots_is_refused(tmp_path):
    make_file(tmp_path / "x" / "old.tmp", age_days=100)
    with pytest.raises(CleanupRefused, match="MAINTENANCE_CLEANUP_ROOTS"):
        cleanup_temporary_files(tmp_path / "x", max_age_days=7)
    assert (tmp_path / "x" / "old.tmp").exists()


def test_a_root_that_is_a_file_is_refused(tmp_root):
    target = make_file(tmp_root / "plain.txt", age_days=100)
    with pytest.raises(CleanupRefused, match="not a directory"):
        cleanup_temporary_files(target, max_age_days=7)
    assert target.exists()


def test_a_subdirectory_of_an_allowed_root_is_allowed(tmp_root):
    old = make_file(tmp_root / "uploads" / "old.tmp", age_days=10)
    cleanup_temporary_files(tmp_root / "uploads", max_age_days=7)
    assert not old.exists()


def test_fresh_empty_directories_are_left_for_uploads_in_flight(tmp_root):
    (tmp_root / "incoming").mkdir()
    cleanup_temporary_files(tmp_root, max_age_days=7)
    assert (tmp_root / "incoming").is_dir()


def test_negative_age_is_refused(tmp_root):
    with pytest.raises(ValueError, match="max_age_days"):
        cleanup_temporary_files(tmp_root, max_age_days=-1)
