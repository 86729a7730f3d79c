import sys

from blipdesk.app import main

sys.exit(main())
