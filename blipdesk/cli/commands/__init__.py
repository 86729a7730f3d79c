"""One module per command; each registers its parser and its handler through blipdesk.cli.context."""
