r"""Bounded fuzz run of the HJ 212 codec: framing, parsing, records, replies, split assembly.

Inputs are byte streams built from packets that are valid, damaged, or garbage, cut at random
points (as TCP delivers them) and fed to :class:`features.hj212.Framer`; each frame goes through
:func:`~features.hj212.parse_packet`, :func:`~features.hj212.records`,
:func:`~features.hj212.reply_for` and a :class:`~features.hj212.SplitAssembler`.
Damage: truncation, a wrong or non-decimal length field, a wrong or non-hex CRC, oversize
packets, bytes that are neither UTF-8 nor GBK, GBK text, a missing ``&&`` or CRLF, duplicate
fields (same and different values), non-numeric values, flipped / inserted / deleted bytes,
several packets joined and junk between them. The properties (:func:`check_stream`):

- nothing raises but :class:`~features.hj212.PacketError` (or a :class:`Refusal` comes back);
- every byte fed comes back in a frame or a refusal with a reason (only runs of CR, LF, NUL and
  spaces between frames are dropped), in order, and nothing stays buffered after ``close``;
- a frame's parts are consistent; an answer is a well-formed packet echoing the QN;
- time per input is bounded (reported: the slowest input).

Engines: Hypothesis (structured inputs, the default; the test suite runs the same strategies
with few examples in ``tests/features/test_hj212_fuzz.py``), and atheris (coverage-guided
libFuzzer on raw bytes, seeded with valid packets) when importable — it is not a project
dependency; install it in a venv of its own (the codec needs only the standard library)::

    .venv/bin/python benchmarks/fuzz_hj212.py --examples 200000          # Hypothesis
    python3.11 -m venv /tmp/qy-fuzz && /tmp/qy-fuzz/bin/pip install atheris hypothesis
    /tmp/qy-fuzz/bin/python benchmarks/fuzz_hj212.py --engine atheris --seconds 300

Crashes are collected (not stopped at), grouped by exception type and place, each with its
smallest input; the result is written to the section "HJ 212 fuzzing (issue #14)" of
BENCHMARKS.md (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import time
import traceback
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.hj212 import (  # noqa: E402
    Frame,
    Framer,
    PacketError,
    Refusal,
    SplitAssembler,
    crc_hj212,
    parse_packet,
    records,
    reply_for,
)
from features.hj212.packet import NUMERIC_SUFFIXES  # noqa: E402

__all__ = ["SEEDS", "check_stream", "streams"]

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
CODE_MAP = {"B01": "w00000", "011": "w01018", "060": "w21003", "01": "a34013", "02": "a21026"}
_WS = re.compile(rb"[\r\n\x00 ]")

#: Valid packets (reference §2.3, each verified there): seeds and building blocks.
SEEDS = [
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n",
    b"##0137QN=20231008130452757;ST=22;CN=2081;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20231008130452;RestartTime=20231007130452&&3AC0\r\n",
    b"##0285QN=20190925181031464;ST=22;CN=2061;PW=BF470F88957588DE902D1A52;MN=Z13401000010301;Flag=5;CP=&&DataTime=20190924220000;a34006-Avg=2.69700,a34006-Flag=N;a34007-Avg=7.96600,a34007-Flag=N;a34048-Avg=3.30600,a34048-Flag=N;a34047-Avg=7.35700,a34047-Flag=N;a34049-Avg=10.66300,a34049-Flag=N&&C181\r\n",
    b"##0077QN=20210412154520280;ST=21;CN=9014;PW=123456;MN=DXCBZ000000005;Flag=5;CP=&&&&0140\r\n",
    b"##0121QN=20250131202809340;ST=39;CN=2011;PW=123456;MN=0507A010003242;Flag=4;CP=&&DataTime=20250131202809;a34001-Rtd=92;Flag=N&&BF41\r\n",
    b"##0234ST=101;CN=2011;PW=123456;MN=41050022000017;CP=&&DataTime=20200922110000;a34010-Rtd=2.017,a34010-Flag=N;a34009-Rtd=0.522,a34009-Flag=N;ua19004-Rtd=2.017,ua19004-Flag=N;ua19005-Rtd=0.522,ua19005-Flag=N;ua19003-Rtd=2.539,ua19003-Flag=N&&3300\r\n",
]


def frame_of(data: bytes, *, length: int | None = None, crc: bytes | None = None) -> bytes:
    """Frame a data segment: ``##`` + length (its byte count unless given) + data + CRC + CRLF."""
    n = len(data) if length is None else length
    c = b"%04X" % crc_hj212(data) if crc is None else crc
    return b"##%04d" % n + data + c + b"\r\n"


# ---------------------------------------------------------------------------- the properties
def check_stream(chunks: list[bytes], *, max_length: int = 9999) -> dict[str, int]:
    """Feed ``chunks`` through the whole codec and assert the properties (module docstring).

    Parameters
    ----------
    chunks : list of bytes
        The stream as the reads deliver it.
    max_length : int
        The framer's largest data segment.

    Returns
    -------
    dict
        Counts: frames, refusals, packets parsed, packet errors, records, answers.

    Raises
    ------
    AssertionError
        When a property does not hold; any other exception is a crash.
    """
    fr = Framer(max_length=max_length)
    out: list[Frame | Refusal] = []
    for c in chunks:
        out += fr.feed(c)
    out += fr.close()
    assert fr.pending == 0, "bytes left buffered after close"
    fed = b"".join(chunks)
    back = b"".join(o.raw for o in out)
    assert _WS.sub(b"", back) == _WS.sub(b"", fed), "bytes lost or reordered by the framer"
    counts = dict.fromkeys(("frames", "refusals", "packets", "errors", "records", "answers"), 0)
    assembler = SplitAssembler(max_open=8)
    for o in out:
        if isinstance(o, Refusal):
            counts["refusals"] += 1
            assert isinstance(o.reason, str) and o.reason.strip(), "refusal without a reason"
            assert o.raw, "refusal of no bytes"
            continue
        assert isinstance(o, Frame), type(o)
        counts["frames"] += 1
        assert o.raw.startswith(b"##") and o.raw.endswith(b"\r\n") and o.data == o.raw[6:-6]
        assert o.crc in (None, "hj212", "modbus", "modbus_le") and o.length_ok in ("bytes", "chars")
        # max_length bounds the declared length: bytes, or characters on the "chars" path (so a
        # frame of multi-byte text may hold up to 4 x max_length bytes)
        n = len(o.data) if o.length_ok == "bytes" else len(o.data.decode("utf-8"))
        assert n <= max_length and n == int(o.raw[2:6])
        try:
            p = parse_packet(o.data, code_map=CODE_MAP)
        except PacketError as exc:
            assert exc.field and exc.reason, "PacketError without field or reason"
            counts["errors"] += 1
            continue
        counts["packets"] += 1
        assert 0 <= p.flag <= 255 and p.needs_ack == bool(p.flag & 1)
        assert p.st and p.cn and p.pw and p.mn
        if p.split:
            assert p.pnum is not None and p.pno is not None and 1 <= p.pno <= p.pnum
        try:
            counts["records"] += len(records(p, zone=ZONE, minute_interval=5))
        except PacketError as exc:
            assert exc.field == "DataTime"
        answer = reply_for(p)
        if answer is not None:
            counts["answers"] += 1
            got = Framer().feed(answer)
            assert len(got) == 1 and isinstance(got[0], Frame) and got[0].raw == answer
            assert got[0].crc == "hj212"
            if p.qn:
                assert b"QN=" + p.qn.encode() + b";" in answer
        assembler.add(p)
    assert assembler.open <= 9
    return counts


# ---------------------------------------------------------------------------- the inputs
def streams():  # noqa: ANN201 (a Hypothesis strategy; hypothesis is imported lazily)
    """Return a Hypothesis strategy of ``(chunks, max_length)``: damaged streams, cut up."""
    from hypothesis import strategies as st

    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    codes = st.sampled_from(
        ["w01018", "w21003", "w00000", "a34013", "a21026", "a21002", "B01", "011", "01", "SB1"]
    ) | st.text(alnum + "_-", min_size=1, max_size=8)
    suffixes = st.sampled_from(sorted(NUMERIC_SUFFIXES) + ["Flag", "EFlag", "SampleTime", "RS"])
    numbers = st.one_of(
        st.integers(-(10**6), 10**6).map(str),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.4g}"),
        st.sampled_from(["1e999", "-0", ".5", "5.", "+1", "1e-3", "0x10", "nan", "inf", "--1"]),
    )
    texts = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
    odd = st.sampled_from(["N", "D", "", "abc", "１２", "1,2"]) | texts

    def mostly(usual, unusual, none: bool = False):  # noqa: ANN001, ANN202
        # 85 % usual (valid inputs reach deeper code), else unusual (or absent)
        def pick(k: int):  # noqa: ANN202
            return usual if k < 17 else (st.none() if none and k == 19 else unusual)

        return st.integers(0, 19).flatmap(pick)

    values = mostly(numbers, odd)
    datetimes = st.one_of(
        st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59)).map(
            lambda t: t.strftime("%Y%m%d%H%M%S")
        ),
        st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)).map(
            lambda t: t.strftime("%Y%m%d%H%M%S") + "000"
        ),
        st.text("0123456789", min_size=0, max_size=16),
        # the calendar's edges (a local time near year 1 or 9999 leaves the range in UTC)
        st.sampled_from(["00010101000000", "00010101075959", "99991231235959", "99991231160000"]),
        texts,
    )
    item = st.tuples(codes, suffixes, values).map(lambda t: f"{t[0]}-{t[1]}={t[2]}")
    plain = st.tuples(
        st.sampled_from(["QnRtn", "ExeRtn", "RtdInterval", "BeginTime", "PolId", "Flag", "X"]),
        values,
    ).map(lambda t: f"{t[0]}={t[1]}")
    log = texts.map(lambda t: f"i11001-Info=//{t}设备//")

    @st.composite
    def packet(draw) -> bytes:  # noqa: ANN001
        header: dict[str, str] = {}
        qn = draw(st.one_of(st.none(), st.text("0123456789", min_size=13, max_size=17), texts))
        if qn is not None:
            header["QN"] = qn
        for name, choices in (
            ("ST", ["21", "22", "31", "32", "39", "91", "101"]),
            ("CN", ["2011", "2051", "2061", "2031", "1013", "9015", "3020", "9014", "1062"]),
            ("PW", ["123456", "BF470F88957588DE902D1A52"]),
            ("MN", ["MN0001", "010000A8900016F000169DC0", "JLYP01_AIR01_0001"]),
        ):
            v = draw(mostly(st.sampled_from(choices), texts, none=True))
            if v is not None:
                header[name] = v
        flag = draw(mostly(st.integers(0, 9), st.integers(-5, 300) | texts, none=True))
        if flag is not None:
            header["Flag"] = str(flag)
        if draw(st.booleans()):
            header["PNUM"] = str(draw(st.integers(-1, 5)))
            header["PNO"] = str(draw(st.integers(-1, 5)))
        parts = [f"DataTime={draw(datetimes)}"] if draw(st.booleans()) else []
        parts += draw(st.lists(st.one_of(item, plain, log), max_size=8))
        sep = draw(st.sampled_from([";", ",", ";;", " ; "]))
        cp = sep.join(parts)
        head = ";".join(f"{k}={v}" for k, v in header.items())
        if draw(st.booleans()) and header:  # a header field given twice
            k = draw(st.sampled_from(sorted(header)))
            head += f";{k}={draw(st.one_of(st.just(header[k]), texts))}"
        data = f"{head};CP=&&{cp}&&".encode()
        return data

    def damage(draw, data: bytes) -> bytes:  # noqa: ANN001
        kind = draw(
            st.sampled_from(
                [
                    "none",
                    "none",
                    "truncate",
                    "length",
                    "length_text",
                    "crc",
                    "crc_text",
                    "modbus",
                    "oversize",
                    "bad_bytes",
                    "gbk",
                    "no_open",
                    "no_close",
                    "no_crlf",
                    "chars_length",
                    "flip",
                    "insert",
                    "delete",
                ]
            )
        )
        whole = frame_of(data)
        n = len(whole)
        if kind == "truncate":
            return whole[: draw(st.integers(0, n - 1))]
        if kind == "length":
            return frame_of(data, length=draw(st.integers(0, 9999)))
        if kind == "length_text":
            return b"##" + draw(st.binary(min_size=4, max_size=4)) + whole[6:]
        if kind == "crc":
            return frame_of(data, crc=b"%04X" % draw(st.integers(0, 0xFFFF)))
        if kind == "crc_text":
            return frame_of(data, crc=draw(st.binary(min_size=0, max_size=6)))
        if kind == "modbus":
            from features.hj212 import crc_modbus

            m = crc_modbus(data)
            return frame_of(data, crc=b"%04x" % ((m & 0xFF) << 8 | m >> 8))
        if kind == "oversize":
            pad = b"x" * draw(
                st.integers(1, 10500 - len(data)) if len(data) < 10000 else st.just(1)
            )
            big = data.replace(b"CP=&&", b"CP=&&" + pad, 1)
            return b"##%04d" % min(len(big), 9999) + big + b"%04X\r\n" % crc_hj212(big)
        if kind == "bad_bytes":
            at = draw(st.integers(0, len(data)))
            junk = draw(st.sampled_from([b"\xff\xfe", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
            return frame_of(data[:at] + junk + data[at:])
        if kind == "gbk":
            return frame_of(
                data.decode("utf-8", "replace").encode("gbk", "replace").replace(b"?", b"\xa1\xa1")
            )
        if kind == "no_open":
            return frame_of(data.replace(b"CP=&&", b"CP=", 1))
        if kind == "no_close":
            return frame_of(data[:-2])
        if kind == "no_crlf":
            return whole[:-2]
        if kind == "chars_length":
            return frame_of(data, length=len(data.decode("utf-8", "replace")))
        if kind in ("flip", "insert", "delete"):
            at = draw(st.integers(0, n - 1))
            if kind == "flip":
                return whole[:at] + bytes([whole[at] ^ draw(st.integers(1, 255))]) + whole[at + 1 :]
            if kind == "insert":
                return whole[:at] + draw(st.binary(min_size=1, max_size=8)) + whole[at:]
            return whole[:at] + whole[at + draw(st.integers(1, 8)) :]
        return whole

    @st.composite
    def stream(draw) -> tuple[list[bytes], int]:  # noqa: ANN001
        pieces = []
        for _ in range(draw(st.integers(1, 5))):
            source = draw(st.sampled_from(["built", "built", "seed", "junk"]))
            if source == "junk":
                pieces.append(
                    draw(
                        st.one_of(
                            st.binary(max_size=64),
                            st.sampled_from(
                                [b"#", b"##", b"####", b"##12x4", b"\r\n", b"&&0000\r\n"]
                            ),
                        )
                    )
                )
                continue
            if source == "seed":
                data = draw(st.sampled_from(SEEDS))[6:-6]
            else:
                data = draw(packet())
                if len(data) > 9000:
                    data = data[:9000]
            pieces.append(damage(draw, data))
            if draw(st.booleans()):
                pieces.append(draw(st.sampled_from([b"", b"\r\n", b" ", b"\x00", b"garbage"])))
        joined = b"".join(pieces)
        cuts = sorted(set(draw(st.lists(st.integers(0, len(joined)), max_size=8))))
        chunks, at = [], 0
        for c in cuts + [len(joined)]:
            chunks.append(joined[at:c])
            at = c
        max_length = draw(st.sampled_from([9999, 9999, 1024, 100]))
        return chunks, max_length

    return stream()


# ---------------------------------------------------------------------------- the campaign
class _Campaign:
    """Run inputs, time them, collect crashes by (exception type, place)."""

    def __init__(self) -> None:
        self.examples = 0
        self.hypothesis_examples = 0
        self.slowest = (0.0, b"")
        self.crashes: dict[str, dict] = {}
        self.totals: dict[str, int] = {}

    def run(self, chunks: list[bytes], max_length: int) -> None:
        self.examples += 1
        t = time.perf_counter()
        try:
            counts = check_stream(chunks, max_length=max_length)
        except Exception as exc:  # a crash (or a broken property): keep going
            tb = traceback.extract_tb(exc.__traceback__)
            place = next(
                (
                    f"{Path(f.filename).name}:{f.lineno}"
                    for f in reversed(tb)
                    if "hj212" in f.filename
                ),
                f"{Path(tb[-1].filename).name}:{tb[-1].lineno}",
            )
            key = f"{type(exc).__name__} at {place}"
            raw = b"".join(chunks)
            old = self.crashes.get(key)
            if old is None or len(raw) < len(old["input"]):
                self.crashes[key] = {
                    "count": (old or {}).get("count", 0),
                    "message": str(exc)[:200],
                    "input": raw,
                    "max_length": max_length,
                }
            self.crashes[key]["count"] += 1
        else:
            for k, v in counts.items():
                self.totals[k] = self.totals.get(k, 0) + v
        took = time.perf_counter() - t
        if took > self.slowest[0]:
            self.slowest = (took, b"".join(chunks)[:200])


def mutate(case: tuple[list[bytes], int], rng: random.Random) -> tuple[list[bytes], int]:
    """Return a byte-level variant of a stream: bytes flipped, inserted, deleted, duplicated,
    truncated, spliced with a seed packet, and cut again at new points."""
    chunks, max_length = case
    b = bytearray(b"".join(chunks))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        at = rng.randint(0, len(b))
        if op == 0 and b:
            b[min(at, len(b) - 1)] ^= rng.randint(1, 255)
        elif op == 1:
            b[at:at] = rng.choice(
                [b"##", b"&&", b"\r\n", b";", b"=", b",", b"\xff", b"0"]
            ) * rng.randint(1, 3)
        elif op == 2:
            del b[at : at + rng.randint(1, 16)]
        elif op == 3 and b:
            j = rng.randint(0, len(b))
            b[at:at] = b[min(at, j) : max(at, j)][:2000]
        elif op == 4:
            del b[at:]
        elif op == 5:
            b[at:at] = rng.choice(SEEDS)
        else:
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    data = bytes(b)
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 6)))
    out, at = [], 0
    for c in cuts + [len(data)]:
        out.append(data[at:c])
        at = c
    return out, max_length


def run_hypothesis(
    examples: int, seconds: float, seed: int, *, mutations: int = 0
) -> tuple[_Campaign, float]:
    """Run ``examples`` Hypothesis inputs (stopping at ``seconds``), each followed by
    ``mutations`` byte-level variants (:func:`mutate`); return the campaign and its duration."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    camp = _Campaign()
    end = time.perf_counter() + seconds

    class _TimeUp(Exception):
        pass

    @hseed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(streams(), st.integers(0, 2**32 - 1))
    def target(case: tuple[list[bytes], int], mseed: int) -> None:
        if time.perf_counter() > end:
            raise _TimeUp
        camp.hypothesis_examples += 1
        camp.run(*case)
        rng = random.Random(mseed)
        for _ in range(mutations):  # cheap byte-level variants of the same stream
            camp.run(*mutate(case, rng))

    t0 = time.perf_counter()
    try:
        target()
    except _TimeUp:
        pass
    except Exception as exc:  # Hypothesis re-raising _TimeUp wrapped, or a flaky report
        if "_TimeUp" not in repr(exc):
            raise
    return camp, time.perf_counter() - t0


def run_atheris(seconds: float, corpus: Path, finish) -> None:  # noqa: ANN001
    """Coverage-guided libFuzzer run (atheris) for ``seconds`` on raw bytes, seeded with SEEDS.

    libFuzzer ends the process itself, so ``finish(campaign, seconds_taken)`` is called from
    the fuzz callback once the time is up, and the process then exits.
    """
    import inspect
    import os

    import atheris

    import features.hj212.crc
    import features.hj212.framing
    import features.hj212.packet
    import features.hj212.records

    # the codec was imported with this module: instrument its functions and methods in place
    for mod in (
        features.hj212.crc,
        features.hj212.framing,
        features.hj212.packet,
        features.hj212.records,
    ):
        for obj in list(vars(mod).values()):
            if inspect.isfunction(obj) and obj.__module__ == mod.__name__:
                atheris.instrument_func(obj)
            elif inspect.isclass(obj) and obj.__module__ == mod.__name__:
                for f in vars(obj).values():
                    if inspect.isfunction(f):
                        atheris.instrument_func(f)
    camp = _Campaign()
    corpus.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(SEEDS):
        (corpus / f"seed{i}").write_bytes(b"\x00" + s)
    t0 = time.perf_counter()

    def one(data: bytes) -> None:
        if time.perf_counter() - t0 > seconds:
            finish(camp, time.perf_counter() - t0)
            sys.stdout.flush()
            os._exit(0)
        if not data:
            return
        max_length = (9999, 1024, 100, 500)[data[0] % 4]
        body = data[1:]
        cut = len(body) // 2 if data[0] & 4 else len(body)
        camp.run([body[:cut], body[cut:]], max_length)

    atheris.Setup(
        [sys.argv[0], str(corpus), f"-max_total_time={int(seconds) + 600}", "-max_len=12000"],
        one,
    )
    atheris.Fuzz()


def main() -> None:
    """Parse the command line, run the campaign, print and write the result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=["hypothesis", "atheris"], default="hypothesis")
    ap.add_argument("--examples", type=int, default=200_000, help="Hypothesis inputs")
    ap.add_argument("--seconds", type=float, default=540, help="time cap of the run")
    ap.add_argument("--seed", type=int, default=212)
    ap.add_argument(
        "--mutations", type=int, default=20, help="byte-level variants per Hypothesis example"
    )
    ap.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args()
    if args.engine == "hypothesis":
        camp, took = run_hypothesis(
            args.examples, args.seconds, args.seed, mutations=args.mutations
        )
        _finish(camp, took, args)
    else:
        import tempfile

        run_atheris(
            args.seconds,
            Path(tempfile.mkdtemp(prefix="hj212-corpus-")),
            lambda camp, took: _finish(camp, took, args),
        )


def _finish(camp: _Campaign, took: float, args: argparse.Namespace) -> None:
    """Print the result, write it to ``--json`` and BENCHMARKS.md."""
    result = {
        "engine": args.engine,
        "examples": camp.examples,
        "hypothesis_examples": camp.hypothesis_examples,
        "mutations_per_example": args.mutations if args.engine == "hypothesis" else 0,
        "seconds": round(took, 1),
        "crashes": sum(c["count"] for c in camp.crashes.values()),
        "distinct_crashes": {
            k: {
                "count": c["count"],
                "message": c["message"],
                "max_length": c["max_length"],
                "input": c["input"][:400].decode("latin-1"),
            }
            for k, c in camp.crashes.items()
        },
        "slowest_input_s": round(camp.slowest[0], 4),
        "totals": camp.totals,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if not args.no_write:
        _write(result, args)


def _write(result: dict, args: argparse.Namespace) -> None:
    from benchmarks._machine import machine, write_section

    cmd = (
        f"`.venv/bin/python benchmarks/fuzz_hj212.py --examples {args.examples} --seed {args.seed}`"
        if args.engine == "hypothesis"
        else f"`<venv with atheris>/bin/python benchmarks/fuzz_hj212.py --engine atheris --seconds {args.seconds:g}`"
    )
    t = result["totals"]
    body = (
        f"\nMachine: {machine()}. Command: {cmd}. Engine: {result['engine']}. Inputs: byte streams "
        "of valid, damaged and garbage packets cut at random points, through Framer, "
        "parse_packet, records, reply_for and SplitAssembler (properties: module docstring of "
        "the script).\n\n"
        f"- inputs run: {result['examples']:,} in {result['seconds']:.0f} s; slowest input "
        f"{result['slowest_input_s'] * 1000:.1f} ms\n"
        f"- crashes (an exception other than PacketError, or a broken property): "
        f"{result['crashes']}\n"
        f"- what the inputs gave: {t.get('frames', 0):,} frames, {t.get('refusals', 0):,} "
        f"refusals (each with a reason), {t.get('packets', 0):,} packets parsed, "
        f"{t.get('errors', 0):,} PacketErrors, {t.get('records', 0):,} records, "
        f"{t.get('answers', 0):,} answers\n"
    )
    for k, c in result["distinct_crashes"].items():
        body += f"- crash `{k}` ({c['count']}x): {c['message']}; smallest input `{c['input'][:120]!r}`\n"
    write_section(
        str(ROOT / "BENCHMARKS.md"), f"HJ 212 fuzzing, {result['engine']} (issue #14)", body
    )


if __name__ == "__main__":
    main()
