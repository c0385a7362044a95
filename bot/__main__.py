"""`python -m bot` is the `phucvu` command."""

from bot.cli import main

raise SystemExit(main())
