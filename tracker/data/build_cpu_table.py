"""Build ``tracker/data/cpu_tdp.csv`` from the reference CPU power table.

The reference table (model name -> TDP in W, from Intel ARK and AMD product specifications as
compiled by the MIT-licensed CodeCarbon project) is read, cleaned and written with each name's
normalised lookup key, so the tracker matches a model without normalising thousands of names at
start-up. The hardware threads of a part come from the curated ``cpu_threads.csv`` (each with its
source, see README_cpu.md): a VM is charged its vCPUs' share of the part. Run from the repository
root:

    python -m tracker.data.build_cpu_table [REFERENCE_DIR]

REFERENCE_DIR defaults to ``../shared/data/reference`` relative to the repository root.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tracker.power.tdp import TDP_TABLE, THREADS_TABLE, normalise_model_name

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "data" / "reference"
SOURCE_FILE = "cpu_power.csv"
# Curated corrections: a figure of the compilation on another basis than its vendor's (Intel's
# "Processor Base Power" from the 12th generation on), each with its source.
CORRECTIONS_TABLE = Path(__file__).resolve().parent / "cpu_tdp_corrections.csv"


def _tdp_w(text: str) -> float | None:
    """A positive TDP, or None for the source's few malformed figures (e.g. "27.29.5")."""
    try:
        tdp_w = float(text)
    except ValueError:
        return None
    return tdp_w if tdp_w > 0 else None


def read_threads(path: Path = THREADS_TABLE) -> dict[str, int]:
    """Normalised name -> hardware threads of one part, from the curated table.

    A source ``aws:<instance type>:<vCPUs>:<sockets>`` (the largest size of an instance family,
    a whole host) must give exactly vCPUs / sockets threads: the rule is checked, not trusted.
    """
    threads: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            count = int(record["threads"])
            kind, *rule = record["source"].split(":")
            if kind == "aws":
                _, vcpus, sockets = rule
                if count * int(sockets) != int(vcpus):
                    raise ValueError(f"{record['model']}: {count} threads x {sockets} != {vcpus}")
            elif kind not in ("intel-ark", "amd-spec") or rule:
                raise ValueError(f"{record['model']}: unknown source {record['source']!r}")
            threads[normalise_model_name(record["model"])] = count
    return threads


def read_corrections(path: Path = CORRECTIONS_TABLE) -> dict[str, float]:
    """Normalised name -> corrected TDP, from the curated table (vendor sources only)."""
    corrections: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            if record["source"] not in ("intel-ark", "amd-spec"):
                raise ValueError(f"{record['model']}: unknown source {record['source']!r}")
            corrections[normalise_model_name(record["model"])] = float(record["tdp_w"])
    return corrections


def build(
    reference_dir: Path,
    out_path: Path = TDP_TABLE,
    threads_path: Path = THREADS_TABLE,
    corrections_path: Path = CORRECTIONS_TABLE,
) -> tuple[int, int]:
    """Write the table; returns (rows written, rows dropped). Rows without a valid positive TDP
    are dropped; when names collide after normalisation the highest TDP is kept, so an estimate
    errs high. A curated thread count whose part has no TDP in the reference is an error: no
    part gets a thread count without a sourced TDP."""
    threads = read_threads(threads_path)
    rows: dict[str, tuple[str, float]] = {}
    dropped = 0
    with (reference_dir / SOURCE_FILE).open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            model = " ".join(record["Name"].split())
            tdp_w = _tdp_w(record["TDP"])
            key = normalise_model_name(model)
            if tdp_w is None or not key:
                dropped += 1
                continue
            if key not in rows or tdp_w > rows[key][1]:
                rows[key] = (model, tdp_w)
    missing = sorted(set(threads) - set(rows))
    if missing:
        raise ValueError(f"thread counts for parts without a TDP: {', '.join(missing)}")
    corrections = read_corrections(corrections_path)
    unknown = sorted(set(corrections) - set(rows))
    if unknown:
        raise ValueError(f"corrections for parts the reference lacks: {', '.join(unknown)}")
    for key, tdp_w in corrections.items():
        rows[key] = (rows[key][0], tdp_w)
    with out_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("key", "model", "tdp_w", "threads"))
        for key in sorted(rows):
            model, tdp_w = rows[key]
            writer.writerow((key, model, f"{tdp_w:g}", threads.get(key, "")))
    return len(rows), dropped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "reference_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_REFERENCE_DIR,
        help="folder holding cpu_power.csv (default: ../shared/data/reference)",
    )
    parser.add_argument("--out", type=Path, default=TDP_TABLE, help="table to write")
    parser.add_argument(
        "--threads", type=Path, default=THREADS_TABLE, help="curated thread counts to merge"
    )
    parser.add_argument(
        "--corrections", type=Path, default=CORRECTIONS_TABLE, help="curated TDP corrections"
    )
    args = parser.parse_args(argv)
    if not (args.reference_dir / SOURCE_FILE).is_file():
        sys.exit(
            f"no {SOURCE_FILE} in {args.reference_dir}: the bundled table stays as committed "
            "(pass REFERENCE_DIR to rebuild from elsewhere)"
        )
    written, dropped = build(args.reference_dir, args.out, args.threads, args.corrections)
    print(f"wrote {written} CPU models to {args.out} ({dropped} rows without a valid TDP dropped)")


if __name__ == "__main__":
    main()
