"""Values and rules, with no I/O: tags and sentences, ratings and labels, calibration values, the one tagging rule (scalar and vector), name validation. Imports nothing of blipdesk but infra."""
