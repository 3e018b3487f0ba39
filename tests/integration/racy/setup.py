from setuptools import Extension, setup

# No compiler flags of their own: CC and -fsanitize= come from the build's sysconfig.
setup(name="racy", version="1.0",
      ext_modules=[Extension("racy", ["racy.c"]), Extension("racy_import", ["racy_import.c"])])
