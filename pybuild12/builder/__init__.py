"""How a build is made: the plan (the ./configure and make steps, as data), the preflight of
compilers, headers and packages, `--optimize max`'s LLVM toolchain, and ccache."""
