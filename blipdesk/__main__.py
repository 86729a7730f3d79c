import sys

from blipdesk.app import main

if __name__ == "__main__":  # decode workers (spawn) re-import this module: they must not run main
    sys.exit(main())
