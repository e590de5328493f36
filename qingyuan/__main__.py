"""``python -m qingyuan``: the command-line interface."""

from qingyuan.cli import main

if __name__ == "__main__":  # not when a spawned worker process (uvicorn --workers) imports it
    main(prog_name="qingyuan")
