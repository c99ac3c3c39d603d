"""`python -m ifdsed ...`: the `ifdsed` command (ifdsed.cli), where the console script is not on PATH."""
import sys

from ifdsed.cli import main

if __name__ == "__main__":
    sys.exit(main())
