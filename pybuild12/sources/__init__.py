"""CPython's sources into a build tree: release tarballs (checksummed, mirror first), git
commits (a bare-repository cache and worktrees), and archive extraction."""
