import pandas as pd

from features.times import naive_utc, to_local, to_utc


def test_round_trip_and_index():
    t = pd.Timestamp("2016-12-16 08:00")
    assert to_utc(t, "Asia/Shanghai") == pd.Timestamp("2016-12-16 00:00")
    assert to_local(pd.Timestamp("2016-12-16 00:00"), "Asia/Shanghai") == t
    idx = pd.date_range("2017-01-01", periods=3, freq="h")
    assert (to_local(to_utc(idx, "Asia/Shanghai"), "Asia/Shanghai") == idx).all()
    assert to_utc("2017-01-01 08:00", "Asia/Shanghai") == pd.Timestamp("2017-01-01")


def test_aware_inputs_convert_from_their_own_zone():
    aware = pd.Timestamp("2017-01-01 09:00", tz="Asia/Tokyo")
    assert to_utc(aware, "Asia/Shanghai") == pd.Timestamp("2017-01-01 00:00")
    assert naive_utc(aware) == pd.Timestamp("2017-01-01 00:00")
    assert naive_utc(pd.Timestamp("2017-01-01")) == pd.Timestamp("2017-01-01")


def test_local_day_bounds_in_utc():
    from features.times import local_day_to_utc

    assert local_day_to_utc("2016-03-01", "Asia/Shanghai") == pd.Timestamp("2016-02-29 16:00")
    end = local_day_to_utc("2016-03-01", "Asia/Shanghai", end_of_day=True)
    assert end == pd.Timestamp("2016-03-01 15:00")
    # a DST day in New York has 23 hours: the last hour starts 22 h after midnight wall-clock
    assert local_day_to_utc("2021-03-14", "America/New_York", end_of_day=True) == pd.Timestamp(
        "2021-03-15 04:00"
    )
