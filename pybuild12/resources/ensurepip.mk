# Read after CPython's own Makefile (make -f Makefile -f ensurepip.mk pybuild12-ensurepip):
# ensurepip as `make install` runs it, with the same interpreter and options, through
# PYBUILD12_ENSUREPIP (ensurepip_again.py), which installs pip even when the final
# prefix already has it. PYBUILD12_PIP_OPTIONS: more options for pip install
# (--no-compile when make install does not byte-compile).
pybuild12-ensurepip:
	@if test "x$(ENSUREPIP)" != "xno"; then \
		$(RUNSHARED) $(PYTHON_FOR_BUILD) $(PYBUILD12_ENSUREPIP) $(ENSUREPIP) $(DESTDIR)/ $(PYBUILD12_PIP_OPTIONS); \
	fi
