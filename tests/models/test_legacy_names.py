import pickle


def test_models_pickled_under_old_module_names_still_load():
    from models.forecast.baselines import PersistenceForecaster

    blob = pickle.dumps(PersistenceForecaster("pm25"), protocol=0)
    old = blob.replace(b"models.forecast.baselines", b"models.baselines")
    assert old != blob
    back = pickle.loads(old)
    assert type(back) is PersistenceForecaster and back.target == "pm25"
    import models.lgbm  # noqa: F401

    import models.forecast.lgbm

    assert models.lgbm is models.forecast.lgbm
