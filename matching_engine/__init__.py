"""Price-time priority order books: a Cython engine (`book`) and a pure-Python oracle (`reference`).

See docs/engine.md for the contract both follow.
"""
