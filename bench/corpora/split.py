"""Rebuild the typed evaluation corpora from their one source file, typed_all.tsv.

    python bench/corpora/split.py           fill the split column, rewrite typed_dev.tsv and typed_heldout.tsv
    python bench/corpora/split.py --check   change nothing; exit 1 if any of the three files is out of date

Split rule (fixed, so that nobody can choose by hand which answers are held out):

    key   = the text, NFKC-normalised, with every space and punctuation mark removed
    h     = the first 8 hex digits of SHA-256(key as UTF-8), read as an integer
    split = "heldout" if h % 10 >= 7 else "dev"          (about 70 % dev, 30 % held out)

Because the key ignores punctuation and spacing, 「はい。」 and 「はい！」 always land in the same part, and
a text that answers several questions is never in both parts. The held-out part is never used for
tuning: look only at dev misses, and report held-out figures separately.
"""
from __future__ import annotations

import hashlib
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALL = HERE / "typed_all.tsv"
PARTS = {"dev": HERE / "typed_dev.tsv", "heldout": HERE / "typed_heldout.tsv"}
HEADER = ["text", "question", "expected", "source", "split"]


def split_key(text: str) -> str:
    """The text as the split sees it: NFKC, no spaces, no punctuation or symbols."""
    normal = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normal
                   if not ch.isspace() and unicodedata.category(ch)[0] not in ("P", "S"))


def split_of(text: str) -> str:
    digest = hashlib.sha256(split_key(text).encode("utf-8")).hexdigest()
    return "heldout" if int(digest[:8], 16) % 10 >= 7 else "dev"


def read_rows(path: Path = ALL) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != HEADER:
        raise SystemExit(f"{path}: the first line must be the header {' / '.join(HEADER)} (tab-separated).")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) == 4:          # a new row may leave the split column out
            cells.append("")
        if len(cells) != len(HEADER):
            raise SystemExit(f"{path} line {number}: expected {len(HEADER)} tab-separated columns, found {len(cells)}.")
        rows.append(cells)
    return rows


def render(rows: list[list[str]]) -> str:
    return "".join("\t".join(r) + "\n" for r in [HEADER, *rows])


def build() -> dict[Path, str]:
    """The wanted content of every file, computed from typed_all.tsv."""
    rows = [[*r[:4], split_of(r[0])] for r in read_rows()]
    wanted = {ALL: render(rows)}
    for name, path in PARTS.items():
        wanted[path] = render([r for r in rows if r[4] == name])
    return wanted


def main(argv: list[str]) -> int:
    wanted = build()
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for p in stale:
            print(f"{p.name} is out of date: run python bench/corpora/split.py")
        return 1 if stale else 0
    for p in stale:
        p.write_text(wanted[p], encoding="utf-8")
    counts = {name: wanted[path].count("\n") - 1 for name, path in PARTS.items()}
    print(f"{sum(counts.values())} answers: dev {counts['dev']}, held out {counts['heldout']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
