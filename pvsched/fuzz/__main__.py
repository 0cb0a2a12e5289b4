"""python -m pvsched.fuzz: run a fuzz campaign (see pvsched.fuzz)."""
import sys

from pvsched.fuzz.campaign import main

sys.exit(main())
