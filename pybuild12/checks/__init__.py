"""Proof that a build works, run inside the interpreter under test: the install's smoke check,
`verify` (sub-interpreters, parallelism, the variants), CPython's own suite, and `compat`."""
