"""Carriers Keel books parcels with, each a package declared as data (registry.py). Each has one
account (one secret) per environment."""
