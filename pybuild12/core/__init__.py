"""The bottom layer, used by all: settings (every environment variable), paths, errors and their exit
codes, the one subprocess runner, HTTP downloads, atomic files, locks, a killed run's leftovers,
staging and the atomic move into place, the run log, the reporter interface."""
