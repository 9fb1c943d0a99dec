"""``python -m bot.cli``: the same as the ``seatbot`` command."""

from bot.cli import main

if __name__ == "__main__":
    main()
