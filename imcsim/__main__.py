import sys

from imcsim.cli.main import main

sys.exit(main())
