from pathlib import Path

from pybuild12.core import staging


def _tree(path: Path, mark: str) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "mark").write_text(mark)
    return path


def test_staged_prefix_mirrors_destdir(tmp_path):
    assert staging.staged_prefix(tmp_path / "s", Path("/opt/x/pythons/3.13")) == tmp_path / "s/opt/x/pythons/3.13"


def test_promote_into_empty_place(tmp_path):
    new = _tree(tmp_path / "new", "new")
    staging.promote(new, tmp_path / "final")
    assert (tmp_path / "final/bin/mark").read_text() == "new"
    assert not new.exists()


def test_promote_replaces_earlier_install_and_cleans_up(tmp_path):
    final = _tree(tmp_path / "final", "old")
    (final / "bin" / "only-in-old").write_text("x")
    new = _tree(tmp_path / "new", "new")
    staging.promote(new, final)
    assert (final / "bin/mark").read_text() == "new"
    assert not (final / "bin/only-in-old").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["final"]


def test_promote_without_renameat2(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    final = _tree(tmp_path / "final", "old")
    staging.promote(_tree(tmp_path / "new", "new"), final)
    assert (final / "bin/mark").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["final"]


def test_exchange_swaps_two_trees(tmp_path):
    a, b = _tree(tmp_path / "a", "a"), _tree(tmp_path / "b", "b")
    if not staging._exchange(a, b):
        import pytest

        pytest.skip("renameat2(RENAME_EXCHANGE) not available here")
    assert (a / "bin/mark").read_text() == "b" and (b / "bin/mark").read_text() == "a"


def test_remove_leftovers_only_touches_that_name(tmp_path):
    s1 = staging.new_staging(tmp_path, "3.13.5")
    s2 = staging.new_staging(tmp_path, "3.13.18")
    retired = tmp_path / ".retired-3.13.5-abc"
    retired.mkdir()
    keep = _tree(tmp_path / "3.13.5", "installed")
    removed = staging.remove_leftovers(tmp_path, "3.13.5")
    assert sorted(removed) == sorted([s1, retired])
    assert s2.exists() and keep.exists()


def test_remove_leftovers_of_a_name_spares_names_it_begins(tmp_path):
    """Reclaiming `main` must not delete a concurrent `main-debug` install's staging tree."""
    mine = staging.new_staging(tmp_path, "main")
    theirs = [staging.new_staging(tmp_path, "main-debug"), staging.new_staging(tmp_path, "main-x-y"),
              tmp_path / ".retired-main-debug-uninstall", tmp_path / ".retired-main-debug-k3j9x_2a"]
    for path in theirs[2:]:
        path.mkdir()
    retired = tmp_path / ".retired-main-uninstall"
    retired.mkdir()
    assert sorted(staging.remove_leftovers(tmp_path, "main")) == sorted([mine, retired])
    assert all(p.is_dir() for p in theirs)
    assert sorted(staging.remove_leftovers(tmp_path, "main-debug")) == sorted([theirs[0], *theirs[2:]])
    assert theirs[1].is_dir()
