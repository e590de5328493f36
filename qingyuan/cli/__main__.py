"""``python -m qingyuan.cli``: the command-line interface."""

from qingyuan.cli import main

main(prog_name="qingyuan")
