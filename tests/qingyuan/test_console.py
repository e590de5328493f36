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


def test_mlflow_console_prints_go_to_the_log_and_a_library_traceback_stays_off_screen(
    tmp_path, capfd
):
    import prefect.logging.configuration as prefect_logging
    from mlflow.utils.logging_utils import eprint

    prefect_file = prefect_logging.__file__
    with library_noise_to(tmp_path / "run.log") as path:
        eprint("Successfully registered model 'beijing-pm25'.")
        eprint("Created version '3' of model 'beijing-pm25'.")
        # a record Prefect's engine logs (its own file) vs one a step logs (Qingyuan's file)
        engine = logging.getLogger("prefect.flow_runs")
        for pathname, msg in ((prefect_file, "Encountered exception"), (__file__, "own note")):
            engine.handle(logging.LogRecord(engine.name, logging.ERROR, pathname, 1, msg, (), None))
    out, err = capfd.readouterr()
    assert "registered model" not in out + err and "Created version" not in out + err
    assert "Encountered exception" not in out + err
    text = path.read_text(encoding="utf-8")
    assert "Successfully registered model 'beijing-pm25'." in text
    assert "Created version '3' of model 'beijing-pm25'." in text
    assert "Encountered exception" in text and "own note" in text
    eprint("after")  # restored: MLflow prints to stderr again
    assert "after" in capfd.readouterr().err
