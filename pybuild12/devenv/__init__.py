"""Using the builds in a project: venvs, the `env` shims, `.python-version` pins."""
