import sys

from pvsched.cli import main

sys.exit(main())
