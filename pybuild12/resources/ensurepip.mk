# Read after CPython's own Makefile (make -f Makefile -f ensurepip.mk pybuild12-ensurepip):
# ensurepip as `make install` runs it, with the same interpreter and options, through
# PYBUILD12_ENSUREPIP (ensurepip_again.py), which installs pip even when the final
# prefix already has it.
pybuild12-ensurepip:
	@if test "x$(ENSUREPIP)" != "xno"; then \
		$(RUNSHARED) $(PYTHON_FOR_BUILD) $(PYBUILD12_ENSUREPIP) $(ENSUREPIP) $(DESTDIR)/; \
	fi
