"""One module per command (or per family of subcommands). Each has ``register(commands)``: it
adds its parser(s) to ``commands`` and sets each one's ``handler`` (a ``context.Handler``,
``handler(ns, ctx) -> exit code``). ``blipdesk.cli`` lists them in ``COMMANDS``, in the order
``blipdesk --help`` shows them."""
