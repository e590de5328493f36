"""Regenerate the bundled CJK font, a subset of Noto Sans CJK SC (see ``README.md`` beside it).

Run from the project root (needs Debian's ``fonts-noto-cjk`` or any copy of the collection)::

    .venv/bin/python -m pipelines.fonts.make_subset
    .venv/bin/python -m pipelines.fonts.make_subset --source path/to/NotoSansCJK-Regular.ttc

The subset keeps ASCII, Latin-1, common punctuation and symbols, CJK punctuation and full-width
forms, the 3,755 level-1 hanzi of GB 2312 and every other character of the project's strings
and configuration (``qingyuan/``, ``pipelines/``, ``features/``, ``models/``, ``configs/``,
``benchmarks/``, ``docs/``) that the font has. The family is renamed (``Noto Sans SC Qingyuan``),
so that it never stands in for a full Noto Sans CJK SC installed on the system; the font stays
under the SIL Open Font License 1.1 (``OFL.txt``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["FAMILY", "SOURCE", "gb2312_level1", "main", "make_subset", "project_characters"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: Where Debian's fonts-noto-cjk puts the collection.
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TARGET = HERE / "NotoSansSC-Qingyuan-subset.otf"
#: The family name of the subset (a Modified Version under the OFL: its own name).
FAMILY = "Noto Sans SC Qingyuan"
_SC_FAMILY = "Noto Sans CJK SC"  # the face of the collection that is subset
_SCANNED = ("qingyuan", "pipelines", "features", "models", "configs", "benchmarks", "docs")
_TEXT = {".py", ".yml", ".yaml", ".html", ".md", ".txt", ".json", ".css", ".csv", ".mako"}
_RANGES = (
    (0x20, 0x7E),  # ASCII
    (0xA0, 0xFF),  # Latin-1 supplement: ° ± × µ ² ³ ·
    (0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
    (0x2030, 0x203B),  # per mille, primes, ※
    (0x2190, 0x2193),  # arrows
    (0x2211, 0x2212),  # ∑ −
    (0x2248, 0x2248),  # ≈
    (0x2260, 0x2265),  # ≠ ≤ ≥
    (0x2460, 0x2473),  # ①..⑳
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF01, 0xFF5E),  # full-width forms
    (0xFFE0, 0xFFE5),  # full-width signs
)


def gb2312_level1() -> str:
    """Return the 3,755 level-1 hanzi of GB 2312 (rows 16-55), in code order."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:  # the end of row 55 is unassigned
                continue
    return "".join(out)


def _text_files(root: Path) -> Iterator[Path]:
    for top in _SCANNED:
        for path in sorted((root / top).rglob("*")):
            if path.suffix in _TEXT and path.is_file() and "__pycache__" not in path.parts:
                if "swagger-ui" not in path.parts and path.stat().st_size < 5_000_000:
                    yield path


def project_characters(root: Path = ROOT) -> set[str]:
    """Return every non-ASCII character of the project's source, configuration and docs."""
    chars: set[str] = set()
    for path in _text_files(root):
        try:
            chars.update(c for c in path.read_text(encoding="utf-8") if ord(c) > 0x7E)
        except UnicodeDecodeError:
            continue
    return chars


def _face_index(source: Path) -> int:
    """Return the font number of Noto Sans CJK SC in the collection."""
    from fontTools.ttLib import TTCollection

    faces = TTCollection(str(source), lazy=True)
    try:
        for i, face in enumerate(faces.fonts):
            if face["name"].getDebugName(1) == _SC_FAMILY:
                return i
    finally:
        faces.close()
    raise SystemExit(f"{source}: no face named {_SC_FAMILY!r}")


def make_subset(
    source: Path = SOURCE, target: Path = TARGET, *, extra: Iterable[str] = ()
) -> dict[str, object]:
    """Write the subset font and return what it holds.

    Parameters
    ----------
    source : pathlib.Path
        ``NotoSansCJK-Regular.ttc`` (or the OTF of the SC face).
    target : pathlib.Path
        The subset (OpenType/CFF).
    extra : iterable of str
        More characters to keep.

    Returns
    -------
    dict
        ``face`` (font number in the collection), ``version``, ``characters`` (kept, i.e. in the
        font), ``missing`` (wanted but not in the font), ``glyphs`` and ``bytes``.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    index = _face_index(source) if source.suffix.lower() == ".ttc" else -1
    font = TTFont(str(source), fontNumber=index, lazy=False, recalcTimestamp=False)
    wanted = {chr(c) for lo, hi in _RANGES for c in range(lo, hi + 1)}
    wanted |= set(gb2312_level1()) | project_characters() | set("".join(extra))
    cmap = font.getBestCmap()
    keep = sorted(ord(c) for c in wanted if ord(c) in cmap)
    missing = sorted(c for c in wanted if ord(c) not in cmap and c.isprintable())
    version = font["name"].getDebugName(5) or ""
    options = subset.Options()
    options.hinting = False  # matplotlib auto-hints; browsers do well without CFF hints
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]
    options.notdef_outline = True
    # no language variants (locl: the JP / KR / TC forms), vertical or alternate glyphs: they
    # would double the glyph count for text that is horizontal Simplified Chinese
    options.layout_features = ["ccmp", "kern", "liga", "calt", "halt", "palt"]
    sub = subset.Subsetter(options)
    sub.populate(unicodes=keep)
    sub.subset(font)
    _rename(font, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(target))
    return {
        "face": index,
        "version": version,
        "characters": len(keep),
        "missing": "".join(missing),
        "glyphs": font["maxp"].numGlyphs,
        "bytes": target.stat().st_size,
    }


def _rename(font: object, version: str) -> None:
    """Give the subset its own names (OFL: a Modified Version), keeping copyright and licence."""
    ps = FAMILY.replace(" ", "") + "-Regular"
    names = {
        1: FAMILY,
        2: "Regular",
        3: f"{version.split(';')[0]};{ps}",
        4: f"{FAMILY} Regular",
        6: ps,
        10: "Subset of Noto Sans CJK SC for Qingyuan (清源): ASCII, CJK punctuation, GB 2312 "
        "level-1 hanzi and the characters of the project's strings. Regenerate with "
        "pipelines/fonts/make_subset.py.",
    }
    table = font["name"]  # type: ignore[index]
    for rec in list(table.names):
        if rec.nameID in names or rec.nameID in (16, 17):
            table.removeNames(nameID=rec.nameID)
    for nid, text in names.items():
        table.setName(text, nid, 3, 1, 0x409)  # Windows, Unicode BMP, English (US)
    cff = font["CFF "].cff  # type: ignore[index]
    cff.fontNames = [ps]
    top = cff.topDictIndex[0]
    top.FullName, top.FamilyName = f"{FAMILY} Regular", FAMILY


def main(argv: list[str] | None = None) -> None:
    """Command line: write the subset and print what it holds."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=SOURCE, help=f"default {SOURCE}")
    p.add_argument("--target", type=Path, default=TARGET, help="default: beside this script")
    args = p.parse_args(argv)
    info = make_subset(args.source, args.target)
    print(
        f"{args.target}: {info['characters']} characters, {info['glyphs']} glyphs, "
        f"{int(info['bytes']) / 1e6:.2f} MB, from face {info['face']} of {args.source} "
        f"({info['version']})"
    )
    if info["missing"]:
        print(f"not in the font (left out): {info['missing']}")


if __name__ == "__main__":
    main()
