"""`python -m client`: the same CLI as the `bep` console command."""

import sys

from client.cli import main

sys.exit(main())
