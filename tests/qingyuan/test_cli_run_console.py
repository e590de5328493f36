"""``qingyuan run`` on the console: a heading per step, one clean error line, tracebacks in the log."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

import pipelines.flows
from pipelines.errors import ConfigError
from pipelines.progress import Steps, track
from qingyuan.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _job(fail: BaseException | None):
    def run_flow(networks, store, out):
        plan = Steps(3)
        with plan.step("Ingest x"):
            assert list(track(range(3), desc="read files")) == [0, 1, 2]
        with plan.step("Assess x"):
            if fail is not None:
                raise fail
        with plan.step("Summary"):
            pass
        return {"networks": {}}

    return run_flow


def test_each_step_has_a_heading_and_its_elapsed_time(monkeypatch, tmp_path):
    monkeypatch.setattr(pipelines.flows, "run_flow", _job(None))
    res = CliRunner().invoke(main, ["run", "--outputs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "[1/3] Ingest x …" and lines[2] == "[2/3] Assess x …"
    assert lines[1].startswith("      done in ") and lines[1].endswith(" s")
    assert lines[4] == "[3/3] Summary …" and "# Qingyuan run summary" in res.stdout
    assert res.stderr == ""  # no progress bar when the output is not a terminal


def test_a_failing_step_prints_one_clean_error_line(monkeypatch, tmp_path):
    bad = ConfigError("configs/networks/x.yml", 2, "kind", "unknown")
    monkeypatch.setattr(pipelines.flows, "run_flow", _job(bad))
    res = CliRunner().invoke(main, ["run", "--outputs", str(tmp_path)])
    log = tmp_path / "logs" / "run.log"
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"error: configs/networks/x.yml:2: field 'kind': unknown (details in {log.resolve()})"
    ]
    assert "      failed in " in res.stdout and "Traceback" not in res.output
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "ConfigError" in text


def test_an_unexpected_error_is_one_line_too_with_exit_status_1(monkeypatch, tmp_path):
    monkeypatch.setattr(pipelines.flows, "run_flow", _job(RuntimeError("boom")))
    res = CliRunner().invoke(main, ["run", "--outputs", str(tmp_path)])
    assert res.exit_code == 1
    (line,) = res.stderr.splitlines()
    assert line.startswith("error: RuntimeError: boom (details in ") and line.endswith("run.log)")
    assert "Traceback" not in res.output
    assert "RuntimeError: boom" in (tmp_path / "logs" / "run.log").read_text(encoding="utf-8")


# a real Prefect flow that prints through MLflow and fails in its second step, run by
# `qingyuan run` in a fresh interpreter (Prefect's ephemeral API under a temporary PREFECT_HOME)
_FAILING_FLOW = """
import sys
from prefect import flow, task
import pipelines.flows
from pipelines.errors import ConfigError
from pipelines.progress import Steps, track
from qingyuan.cli import main

@task
def assess():
    raise ConfigError("configs/networks/x.yml", 2, "kind", "unknown")

@flow(name="run", log_prints=True)
def run_flow(networks=None, store_root=None, out_dir=None):
    from mlflow.utils.logging_utils import eprint
    plan = Steps(2)
    with plan.step("Ingest x"):
        for _ in track(range(3), desc="read files"):
            pass
        eprint("Successfully registered model 'x-pm25'.")
        eprint("Created version '1' of model 'x-pm25'.")
    with plan.step("Assess x"):
        assess()
    return {{"networks": {{}}}}

pipelines.flows.run_flow = run_flow
main(["run", "--outputs", sys.argv[1]], prog_name="qingyuan")
"""


def test_a_prefect_flow_failure_shows_no_traceback_and_mlflow_prints_go_to_the_log(tmp_path):
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": "",
        "PREFECT_LOGGING_LEVEL": "WARNING",  # as `qingyuan` sets it before Prefect is imported
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",  # 2 shared cores
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    out = tmp_path / "outputs"
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FAILING_FLOW).format(), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    screen = res.stdout + res.stderr
    assert res.returncode == 2, screen
    assert res.stdout.splitlines()[0] == "[1/2] Ingest x …"
    assert "[2/2] Assess x …" in res.stdout and "      failed in " in res.stdout
    assert res.stderr.splitlines() == [
        "error: configs/networks/x.yml:2: field 'kind': unknown (details in outputs/logs/run.log)"
    ], screen
    assert "Traceback" not in screen and "Successfully registered" not in screen
    log = (out / "logs" / "run.log").read_text(encoding="utf-8")
    assert "Successfully registered model 'x-pm25'." in log
    assert "Created version '1' of model 'x-pm25'." in log
    assert "Encountered exception during execution" in log  # Prefect's own report of the failure
    assert "Traceback (most recent call last)" in log
