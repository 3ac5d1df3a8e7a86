"""`python -m trialfinder` runs the command-line interface."""

from trialfinder.cli import main

if __name__ == "__main__":
    main()
