from setuptools import Extension, setup

# No compiler flags of its own: CC and -fsanitize= come from the build's sysconfig.
setup(name="racy", version="1.0", ext_modules=[Extension("racy", ["racy.c"])])
