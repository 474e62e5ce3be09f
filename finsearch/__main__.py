import sys

from finsearch.cli import main

sys.exit(main())
