"""HJ 212 packets: CRC, framing and parsing against the packets the reference verified (§2.3),
and property tests on random streams (no crash, no hang, every refusal with a reason)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.hj212 import (
    Frame,
    Framer,
    PacketError,
    Refusal,
    build_packet,
    crc_hj212,
    crc_kind,
    crc_modbus,
    parse_packet,
    reply_for,
)

# verbatim from shared/reference/hj212_and_discharge_limits.md §2.3 (each verified there)
VERIFIED = [
    "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80",
    "##0094QN=20231008125115215;ST=22;CN=9011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=1&&CC01",
    "##0137QN=20231008130452757;ST=22;CN=2081;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20231008130452;RestartTime=20231007130452&&3AC0",
    "##0285QN=20190925181031464;ST=22;CN=2061;PW=BF470F88957588DE902D1A52;MN=Z13401000010301;Flag=5;CP=&&DataTime=20190924220000;a34006-Avg=2.69700,a34006-Flag=N;a34007-Avg=7.96600,a34007-Flag=N;a34048-Avg=3.30600,a34048-Flag=N;a34047-Avg=7.35700,a34047-Flag=N;a34049-Avg=10.66300,a34049-Flag=N&&C181",
    "##0411QN=20220513162608370;ST=22;CN=2051;PW=123456;MN=JLYP01_AIR01_0001;Flag=4;CP=&&DataTime=20220513162600;a21004-Avg=4,a21004-Flag=N;a05024-Avg=63,a05024-Flag=N;a21026-Avg=6,a21026-Flag=N;a21005-Avg=0.427,a21005-Flag=N;a34004-Avg=14,a34004-Flag=N;a34002-Avg=31,a34002-Flag=N;a01007-Avg=1,a01007-Flag=N;a01008-Avg=11,a01008-Flag=N;a01001-Avg=17,a01001-Flag=N;a01002-Avg=85,a01002-Flag=N;a01006-Avg=95,a01006-Flag=N&&D641",
    "##0077QN=20210412154520280;ST=21;CN=9014;PW=123456;MN=DXCBZ000000005;Flag=5;CP=&&&&0140",
    "##0121QN=20250131202809340;ST=39;CN=2011;PW=123456;MN=0507A010003242;Flag=4;CP=&&DataTime=20250131202809;a34001-Rtd=92;Flag=N&&BF41",
    "##0234ST=101;CN=2011;PW=123456;MN=41050022000017;CP=&&DataTime=20200922110000;a34010-Rtd=2.017,a34010-Flag=N;a34009-Rtd=0.522,a34009-Flag=N;ua19004-Rtd=2.017,ua19004-Flag=N;ua19005-Rtd=0.522,ua19005-Flag=N;ua19003-Rtd=2.539,ua19003-Flag=N&&3300",
]
WIRE = [p.encode() + b"\r\n" for p in VERIFIED]


def test_crc_is_the_standards_not_modbus():
    data = WIRE[0][6:-6]
    assert crc_hj212(data) == 0x1C80 and crc_modbus(data) == 0x0759  # reference §2.1
    for w in WIRE:
        assert crc_kind(w[6:-6], w[-6:-2].decode()) == "hj212", w[:40]
    # a valid HJ 212 CRC always ends in one of 8 low bytes (reference §2.1)
    assert all(
        crc_hj212(w[6:-6]) & 0xFF in (0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1) for w in WIRE
    )
    assert crc_kind(b"QN=1", "7d00".upper()) in (None, "hj212")


def test_modbus_crcs_are_recognised_not_accepted_silently():
    data = WIRE[1][6:-6]
    m = crc_modbus(data)
    assert crc_kind(data, f"{m:04X}") == "modbus"
    assert crc_kind(data, f"{(m & 0xFF) << 8 | m >> 8:04x}") == "modbus_le"
    assert crc_kind(data, "ZZZZ") is None and crc_kind(data, "12345") is None


def test_framer_cuts_verified_packets_in_one_read_and_byte_by_byte():
    stream = b"".join(WIRE)
    frames = Framer().feed(stream)
    assert [f.raw for f in frames] == WIRE and all(
        f.crc == "hj212" and f.length_ok == "bytes" for f in frames
    )
    fr, got = Framer(), []
    for i in range(len(stream)):
        got += fr.feed(stream[i : i + 1])
    assert [f.raw for f in got] == WIRE and fr.pending == 0


def test_framer_reports_what_is_not_a_frame():
    fr = Framer()
    out = fr.feed(b"GET / HTTP/1.1\r\n" + WIRE[0] + b"##12x4junk" + WIRE[1])
    kinds = [type(o).__name__ for o in out]
    assert kinds == ["Refusal", "Frame", "Refusal", "Refusal", "Frame"], out
    assert "outside a frame" in out[0].reason and "4 decimal digits" in out[2].reason
    # a wrong declared length (the SC packet: 0121 declared, closing && missing) is refused
    bad = WIRE[6].replace(b"&&BF41", b"BF41")
    assert isinstance(Framer().feed(bad + WIRE[0])[0], Refusal)
    # oversize
    assert "exceeds" in Framer(max_length=100).feed(WIRE[3])[0].reason
    # a wrong CRC still frames (the receiver quarantines it), with crc None
    wrong = WIRE[0][:-6] + b"0000\r\n"
    (f,) = Framer().feed(wrong)
    assert isinstance(f, Frame) and f.crc is None
    # end of stream with half a packet
    fr = Framer()
    assert fr.feed(WIRE[2][:50]) == [] and "incomplete" in fr.close()[0].reason


def test_length_in_characters_is_accepted_for_chinese_text():
    data = "QN=20240101000000000;ST=32;CN=3020;PW=123456;MN=M1;Flag=4;CP=&&i11001-Info=//设备维护//&&".encode()
    frame = b"##%04d" % len(data.decode()) + data + b"%04X\r\n" % crc_hj212(data)
    (f,) = Framer().feed(frame)
    assert isinstance(f, Frame) and f.length_ok == "chars" and f.crc == "hj212"
    assert parse_packet(f.data).logs == {"i11001-Info": "设备维护"}


def test_parse_hourly_upload_and_answer_it():
    p = parse_packet(WIRE[3][6:-6])
    assert (p.st, p.cn, p.mn, p.flag, p.version, p.needs_ack) == (
        "22",
        "2061",
        "Z13401000010301",
        5,
        "2017",
        True,
    )
    assert p.cp["DataTime"] == "20190924220000"
    assert p.values["a34006"] == {"Avg": 2.697, "Flag": "N"} and len(p.values) == 5
    ack = reply_for(p)
    (f,) = Framer().feed(ack)
    a = parse_packet(f.data)
    assert f.crc == "hj212" and (a.cn, a.qn, a.st, a.flag, a.mn) == ("9014", p.qn, "91", 4, p.mn)
    assert reply_for(parse_packet(WIRE[4][6:-6])) is None  # Flag=4: no answer wanted


def test_parse_2005_upload_maps_old_codes():
    data = b"ST=32;CN=2011;PW=123456;MN=41050022000017;CP=&&DataTime=20200922110000;B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803&&"
    p = parse_packet(data, code_map={"B01": "w00000", "011": "w01018", "060": "w21003"})
    assert p.version == "2005" and p.qn == "" and p.flag == 0 and not p.needs_ack
    assert p.values == {
        "w00000": {"Rtd": 36.91},
        "w01018": {"Rtd": 231.0, "Flag": "N"},
        "w21003": {"Rtd": 1.803},
    }
    # a 2017 packet is never mapped
    q = parse_packet(WIRE[3][6:-6], code_map={"a34006": "x"})
    assert "a34006" in q.values


def test_parse_is_lenient_where_the_standard_itself_slips():
    p = parse_packet(
        b"QN=1,ST=32;CN=2011;PW=1;MN=M;Flag=5CP=&& w01018-Rtd = 40.1 ;w01018-Rtd=40.1&&"
    )
    assert p.flag == 5 and p.values["w01018"] == {"Rtd": 40.1}
    split = parse_packet(
        b"QN=1;ST=32;CN=2061;PW=1;MN=M;Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20240101000000&&"
    )
    assert split.split and (split.pnum, split.pno) == (2, 1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5", "CP"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&w01018-Rtd=1", "CP"),
        (b"QN=1;ST=32;CN=2011;PW=1;Flag=5;CP=&&&&", "MN"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=x;CP=&&&&", "Flag"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=300;CP=&&&&", "Flag"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=7;CP=&&&&", "PNUM"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;MN=N;Flag=5;CP=&&&&", "MN"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&w01018-Rtd=abc&&", "w01018-Rtd"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&w01018-Rtd=1;w01018-Rtd=2&&", "w01018-Rtd"),
        (b"QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&w01018&&", "w01018"),
        (b"\xff\xfe\xfa\xfb", "(data segment)"),
    ],
)
def test_parse_refuses_with_the_field_named(data, field):
    with pytest.raises(PacketError) as exc:
        parse_packet(data)
    assert exc.value.field == field


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes_never_crash_the_framer_or_parser(chunks):
    fr = Framer(max_length=500)
    out = []
    for c in chunks:
        out += fr.feed(c)
    out += fr.close()
    for item in out:
        assert isinstance(item, Frame | Refusal)
        if isinstance(item, Refusal):
            assert item.reason and item.raw
        else:
            try:
                parse_packet(item.data)
            except PacketError as exc:
                assert exc.field and exc.reason
    assert fr.pending == 0


_TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=24)


@settings(max_examples=200, deadline=None)
@given(
    mns=st.lists(_TEXT, min_size=1, max_size=6),
    values=st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=8
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
    junk=st.binary(max_size=30).filter(lambda b: b"#" not in b),
)
def test_built_packets_survive_any_split_and_junk(mns, values, cuts, junk):
    cp = ";".join(f"w{i:05d}-Rtd={v:.3f},w{i:05d}-Flag=N" for i, v in enumerate(values))
    packets = [
        build_packet(
            {
                "QN": f"2024010100000{i:04d}",
                "ST": "32",
                "CN": "2051",
                "PW": "123456",
                "MN": mn,
                "Flag": 5,
            },
            f"DataTime=20240101000000;{cp}",
        )
        for i, mn in enumerate(mns)
    ]
    stream = junk.join(packets)
    fr, out, at = Framer(), [], 0
    for c in sorted(set(cuts)):
        out += fr.feed(stream[at:c])
        at = max(at, c)
    out += fr.feed(stream[at:]) + fr.close()
    frames = [o for o in out if isinstance(o, Frame)]
    assert [f.raw for f in frames] == packets
    for f, mn in zip(frames, mns, strict=True):
        p = parse_packet(f.data)
        assert p.mn == mn and [p.values[f"w{i:05d}"]["Rtd"] for i in range(len(values))] == [
            float(f"{v:.3f}") for v in values
        ]


def test_the_configured_2005_table_maps_the_reference_packet(tmp_path):
    from pipelines.config.hj212 import hj212_config
    from pipelines.errors import ConfigError

    cfg = hj212_config()
    data = b"ST=32;CN=2011;PW=123456;MN=41050022000017;CP=&&B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803&&"
    p = parse_packet(data, code_map=cfg.code_map("32"))
    assert set(p.values) == {"w00000", "w01018", "w21003"}
    assert cfg.code_map("31")["02"] == "a21026" and cfg.code_map("91") == {}
    bad = tmp_path / "hj212.yml"
    bad.write_text("codes_2005:\n  water:\n    '011': COD\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        hj212_config(bad)
    assert "hj212.yml" in str(exc.value) and "codes_2005" in str(exc.value)


def test_records_carry_the_period_in_utc_and_a_merge_key():
    import datetime as dt
    import zoneinfo

    from features.hj212 import records

    bj = zoneinfo.ZoneInfo("Asia/Shanghai")
    p = parse_packet(WIRE[3][6:-6])  # 2061 hourly, DataTime 20190924220000 (local)
    recs = records(p, zone=bj)
    assert len(recs) == 5
    r = next(x for x in recs if x.code == "a34006")
    assert r.start == dt.datetime(
        2019, 9, 24, 14, tzinfo=dt.UTC
    ) and r.end - r.start == dt.timedelta(hours=1)
    assert (r.value, r.flag) == (2.697, "N")
    again = records(parse_packet(WIRE[3][6:-6]), zone=bj)
    assert {x.key for x in again} == {x.key for x in recs}  # a re-send merges
    minute = records(parse_packet(WIRE[4][6:-6]), zone=bj, minute_interval=10)
    assert all(x.end - x.start == dt.timedelta(minutes=10) for x in minute)
    rt = records(parse_packet(WIRE[6][6:-6]), zone=bj)
    assert [(x.code, x.value, x.start == x.end) for x in rt] == [("a34001", 92.0, True)]
    assert records(parse_packet(WIRE[0][6:-6]), zone=bj) == []  # 1062 is not an upload
    with pytest.raises(PacketError):
        records(parse_packet(b"ST=32;CN=2061;PW=1;MN=M;CP=&&w01018-Avg=1&&"), zone=bj)


def test_split_uploads_are_reassembled():
    from features.hj212 import SplitAssembler

    def part(pno, cp):
        return parse_packet(
            f"QN=2024010100000000{pno};ST=32;CN=2061;PW=1;MN=M;Flag=7;PNUM=2;PNO={pno};CP=&&DataTime=20240101000000;{cp}&&".encode()
        )

    sa = SplitAssembler()
    assert sa.add(part(2, "w21003-Avg=1.2,w21003-Flag=N")) is None and sa.open == 1
    whole = sa.add(part(1, "w01018-Avg=40.1,w01018-Flag=N"))
    assert whole is not None and not whole.split and sa.open == 0
    assert set(whole.values) == {"w01018", "w21003"} and whole.qn.endswith("1")
    unsplit = parse_packet(WIRE[3][6:-6])
    assert sa.add(unsplit) is unsplit
    small = SplitAssembler(max_open=2)
    for i in range(5):
        small.add(
            parse_packet(
                f"QN=1;ST=32;CN=2061;PW=1;MN=M{i};Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20240101000000&&".encode()
            )
        )
    assert small.open <= 3
