"""Use cases: they tie domain rules to stores and adapters; handlers call these."""
