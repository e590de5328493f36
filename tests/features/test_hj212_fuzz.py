"""Property tests of the HJ 212 codec on damaged streams (the strategies and properties of
benchmarks/fuzz_hj212.py, with few examples; the script runs the long campaign): only
PacketError or a Refusal, every byte accounted for with a reason, bounded time per input."""

from __future__ import annotations

import random
import time
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_hj212 import SEEDS, check_stream, frame_of, mutate, streams
from features.hj212 import (
    Frame,
    Framer,
    PacketError,
    Refusal,
    build_packet,
    crc_hj212,
    parse_packet,
    records,
)

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def fast(n: int) -> settings:
    return settings(
        max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )


def _check(chunks, max_length):
    return check_stream(chunks, max_length=max_length)


@fast(400)
@given(streams())
def test_damaged_streams_give_frames_refusals_or_packet_errors_only(case):
    _check(*case)


@fast(150)
@given(streams(), st.integers(0, 2**32 - 1))
def test_byte_level_mutations_too(case, seed):
    rng = random.Random(seed)
    for _ in range(5):
        _check(*mutate(case, rng))


def test_the_seeds_pass_whole_and_cut_everywhere():
    stream = b"".join(SEEDS)
    counts = check_stream([stream])
    assert counts["frames"] == len(SEEDS) and counts["refusals"] == 0
    assert counts["errors"] == 0 and counts["packets"] == len(SEEDS)
    for cut in range(0, len(stream), 7):
        assert check_stream([stream[:cut], stream[cut:]]) == counts


def data(cp="DataTime=20240101100000;w01018-Avg=40.1,w01018-Flag=N", head=None) -> bytes:
    head = head or "QN=20240101100000001;ST=32;CN=2051;PW=123456;MN=MN0001;Flag=5"
    return f"{head};CP=&&{cp}&&".encode()


@pytest.mark.parametrize(
    ("wire", "max_length", "expect"),
    [
        (frame_of(data())[:-9], 9999, "incomplete frame"),  # truncated
        (frame_of(data(), length=5), 9999, "declared data length 5"),  # wrong length
        (b"##00x1" + frame_of(data())[6:], 9999, "4 decimal digits"),
        (b"##9999" + b"x" * 10020, 9999, "no frame end"),  # oversize, no end
        (b"##" + b"%04d" % 9999 + b"x" * 20, 9999, "incomplete frame"),
        (frame_of(data() + b"x" * 200), 100, "exceeds 100"),  # longer than max_length
        (frame_of(data())[:-2], 9999, "incomplete frame"),  # no CRLF
        (frame_of(data())[:-8] + b"1234\r\n", 9999, "incomplete frame"),  # no closing &&
        (b"\xff\xfe\x00junk", 9999, "outside a frame"),
    ],
)
def test_damage_is_refused_with_a_reason(wire, max_length, expect):
    fr = Framer(max_length=max_length)
    out = fr.feed(wire) + fr.close()
    refusals = [o for o in out if isinstance(o, Refusal)]
    assert refusals and any(expect in r.reason for r in refusals), out
    assert b"".join(o.raw for o in out) == wire


@pytest.mark.parametrize(
    ("segment", "field"),
    [
        (data().replace(b"CP=&&", b"CP="), "CP"),  # missing opening &&
        (data()[:-2], "CP"),  # missing closing &&
        (data().replace(b"40.1", b"4O.1"), "w01018-Avg"),  # non-numeric
        (data(cp="DataTime=20240101100000;w01018-Avg=1;w01018-Avg=2"), "w01018-Avg"),
        (data(head="QN=1;ST=32;CN=2051;PW=1;MN=A;MN=B;Flag=5"), "MN"),  # duplicate header
        (data().replace(b"MN0001", b"MN\xff\xfe\xfa"), "(data segment)"),  # neither UTF-8 nor GBK
        (data(head="QN=1;ST=32;CN=2051;PW=1;MN=A;Flag=99999"), "Flag"),
        (data(head="QN=1;ST=32;CN=2051;PW=1;MN=A;Flag=7;PNUM=2;PNO=3"), "PNO"),
    ],
)
def test_bad_segments_frame_but_do_not_parse(segment, field):
    (f,) = Framer().feed(frame_of(segment))
    assert isinstance(f, Frame) and f.crc == "hj212"
    with pytest.raises(PacketError) as exc:
        parse_packet(f.data)
    assert exc.value.field == field


def test_gbk_text_and_repeated_equal_fields_parse():
    seg = data(cp="DataTime=20240101100000;i11001-Info=//设备维护//;w01018-Avg=1;w01018-Avg=1")
    gbk = seg.decode().encode("gbk")
    p = parse_packet(Framer().feed(frame_of(gbk))[0].data)
    assert p.logs == {"i11001-Info": "设备维护"} and p.values["w01018"] == {"Avg": 1.0}


def test_worst_case_inputs_take_bounded_time():
    head = "QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&"
    worst = [
        (head + "a" * 9900 + "=1&&").encode(),  # a long run the log regex backtracks over
        (head + "a" * 9900 + "&&").encode(),  # an item without '='
        (head + ";" * 9900 + "&&").encode(),
        (head + "i11001-Info=//" * 700 + "&&").encode(),
        (head + "w01018-Avg=" + "9" * 9800 + "&&").encode(),  # a huge number
    ]
    for seg in worst:
        t = time.perf_counter()
        check_stream([frame_of(seg)])
        assert time.perf_counter() - t < 2.0, seg[:60]
    # a max-size packet fed one byte at a time, and a stream of bare headers
    big = build_packet({"QN": "1", "ST": "32", "CN": "2011", "PW": "1", "MN": "M"}, "x" * 9950)
    for stream in ([big[i : i + 1] for i in range(len(big))], [b"##" * 30000], [b"#" * 60000]):
        t = time.perf_counter()
        check_stream(stream)
        assert time.perf_counter() - t < 3.0


def test_records_at_the_calendar_edges():
    for when, cn in (("00010101000000", "2051"), ("99991231235959", "2031")):
        p = parse_packet(data(cp=f"DataTime={when};w01018-Avg=1", head=f"ST=32;CN={cn};PW=1;MN=M"))
        with pytest.raises(PacketError):
            records(p, zone=ZONE)


def test_crc_of_the_helper_frames_is_the_standards():
    f = frame_of(data())
    assert f[-6:-2] == b"%04X" % crc_hj212(data()) and f == build_packet(
        {
            "QN": "20240101100000001",
            "ST": "32",
            "CN": "2051",
            "PW": "123456",
            "MN": "MN0001",
            "Flag": 5,
        },
        "DataTime=20240101100000;w01018-Avg=40.1,w01018-Flag=N",
    )
