"""Where pybuild12 keeps things: one object that tests (and users) can repoint.

Defaults follow platformdirs (XDG on Linux). `PYBUILD12_HOME` moves data,
cache, logs and config under one root, which is what tests and CI use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

from pybuild12.core.errors import ResourceError

APP = "pybuild12"


@dataclass(frozen=True)
class Paths:
    data: Path
    cache: Path
    logs: Path
    config: Path  # trusted keys and the signing key of the shared cache

    @classmethod
    def under(cls, root: Path) -> "Paths":
        """Everything under one root (PYBUILD12_HOME: see core/settings.py)."""
        _check_home(root)
        return cls(data=root / "data", cache=root / "cache", logs=root / "logs", config=root / "config")

    @classmethod
    def platform_default(cls) -> "Paths":
        return cls(
            data=Path(platformdirs.user_data_dir(APP)),
            cache=Path(platformdirs.user_cache_dir(APP)),
            logs=Path(platformdirs.user_log_dir(APP)),
            config=Path(platformdirs.user_config_dir(APP)),
        )

    @property
    def pythons(self) -> Path:
        """Installed builds, one prefix per name."""
        return self.data / "pythons"

    @property
    def downloads(self) -> Path:
        return self.cache / "downloads"

    @property
    def artifacts(self) -> Path:
        """Verified builds, packed (the artifact cache)."""
        return self.cache / "artifacts"

    @property
    def profiles(self) -> Path:
        """Recorded PGO profiles (the training run's .gcda files)."""
        return self.cache / "profiles"

    @property
    def kept(self) -> Path:
        """Builds that finished but failed their verification, one per name: kept for
        `verify --python` (the artifact cache has them too, for a retried install)."""
        return self.cache / "kept"

    @property
    def builds(self) -> Path:
        """Source trees being built (removed after success unless --keep-build)."""
        return self.cache / "build"

    @property
    def locks(self) -> Path:
        return self.data / "locks"

    @property
    def shims(self) -> Path:
        """Per-build directories of links (`python`, `pip`) that `pybuild12 env` puts on PATH:
        a build's own bin/ has only python3 and pip3, and stays as `make install` left it."""
        return self.data / "shims"

    def prefix(self, name: str) -> Path:
        return self.pythons / name


def home_of(prefix: str | Path) -> tuple[Path, str] | None:
    """The PYBUILD12_HOME and build name that install a build at `prefix`, if any do
    (`<home>/data/pythons/<name>`): what another machine used, from its build's prefix."""
    path = Path(prefix)
    if path.is_absolute() and path.name and path.parent.name == "pythons" and path.parent.parent.name == "data":
        return path.parent.parent.parent, path.name
    return None


def _check_home(root: Path) -> None:
    """PYBUILD12_HOME must be a directory, or a place where one can be made."""
    for path in (root, *root.parents):
        try:
            if path.exists():
                if path.is_dir():
                    return
                raise ResourceError(f"PYBUILD12_HOME={root} cannot be used: {path} is a file, not a directory",
                                    hint="point PYBUILD12_HOME at a directory (it is created if missing), "
                                    "or unset it to use the default locations")
        except OSError as exc:
            raise ResourceError(f"PYBUILD12_HOME={root} cannot be used: {exc.strerror}",
                                hint="point PYBUILD12_HOME at a directory, or unset it") from None
