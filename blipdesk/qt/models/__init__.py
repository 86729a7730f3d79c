"""Qt item models: adapters over plain values; no I/O in data()."""
