"""``python -m i2i`` runs the CLI."""

from i2i.cli.app import main

if __name__ == "__main__":
    main()
