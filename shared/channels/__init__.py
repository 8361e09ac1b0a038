"""Channel adapters: one package per channel behind one port (see port.py)."""
