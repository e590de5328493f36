"""The quiet console of ``qingyuan run``: library records go to the log file, not the screen."""

from __future__ import annotations

import logging
import os

from qingyuan.cli.console import library_noise_to


def test_library_records_go_to_the_log_file_and_everything_is_restored(tmp_path, capfd):
    import mlflow  # noqa: F401 - it installs its console handler on import

    mlflow_log = logging.getLogger("mlflow.pyfunc")
    before = logging.getLogger("mlflow").handlers[:]
    bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    with library_noise_to(tmp_path / "logs" / "run.log") as path:
        mlflow_log.warning("Passing a Python object as python_model causes CloudPickle ...")
        logging.getLogger("alembic.runtime.migration").info("Running upgrade -> 0001")
        logging.getLogger("py.warnings").warning("UserWarning: An input example was not provided")
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    out, err = capfd.readouterr()
    assert "CloudPickle" not in out + err and "input example" not in out + err
    text = path.read_text(encoding="utf-8")
    assert "mlflow.pyfunc: Passing a Python object" in text
    assert "py.warnings: UserWarning: An input example" in text
    assert logging.getLogger("mlflow").handlers == before  # restored
    assert os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR") == bar
