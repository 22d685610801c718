"""The command line of the whole house (`capex`): capex/cli.py."""
