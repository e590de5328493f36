import mlflow

from models import tracking

CFG = {
    "tracking_uri": "sqlite:///mlruns/mlflow.db",
    "artifact_root": "mlruns/artifacts",
    "experiment": "qingyuan-test-tracking",
}


def test_environment_tracking_uri_wins(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    exp = tracking.configure(tmp_path / "root", CFG)
    assert mlflow.get_tracking_uri() == uri
    assert not (tmp_path / "root").exists()
    loc = mlflow.get_experiment(exp).artifact_location
    assert loc == (tmp_path / "elsewhere" / "artifacts").as_uri()


def test_configured_sqlite_store_relative_to_the_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure(tmp_path, CFG)
    assert mlflow.get_tracking_uri() == f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').resolve()}"
    assert (tmp_path / "mlruns").is_dir()
