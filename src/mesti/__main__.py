"""``python -m mesti`` is the same as the ``mesti`` console script."""

from mesti.cli.main import main

if __name__ == "__main__":
    main()
