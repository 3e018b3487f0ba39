"""`pybuild12 install`, in the order it runs: `flow` (the whole install, top to bottom),
`compiling` (the build steps and the PGO profile), `verification` (the staged build
proved, or kept), `publish` (`--push`); `job` holds the records they pass along."""

from pybuild12.install.answer import installed_as_asked
from pybuild12.install.flow import install
from pybuild12.install.job import InstallOptions
from pybuild12.install.keying import artifact_key, request
from pybuild12.install.verification import lacking_modules

__all__ = ["InstallOptions", "artifact_key", "install", "installed_as_asked", "lacking_modules", "request"]
