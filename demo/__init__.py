"""The demo market: `seed` is the scenario (accounts, instruments, index history, orders) as
commands; `serve` runs it (`capex serve --demo`): the app, the market-maker bot, the logins printed.
docs/demo.md."""
