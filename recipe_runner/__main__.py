"""`python -m recipe_runner` is `rr`."""

from .cli import main

main()
