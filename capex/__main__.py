"""`python -m capex ...` is `capex ...` (capex/cli.py)."""

from capex.cli import main

main()
