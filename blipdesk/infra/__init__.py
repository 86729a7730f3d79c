"""Infrastructure: paths, atomic writes, logging, errors, how paths are shown. Imports nothing of blipdesk above it."""
