"""Measurements, not tests: `make bench`. Each script says its method."""
