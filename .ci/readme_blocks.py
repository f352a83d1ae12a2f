"""Run every ```bash and ```python block of README.md, in order, in one fresh folder, as a
user following the README would; print each block's time; fail on the first error.

A python block's ``# -> TEXT`` lines state what it prints: its output must be exactly
those lines, in order (so the README's numbers are the ones a reader gets).

A block preceded by ``<!-- ci: skip (reason) -->`` is not run (the install commands that
.ci/run itself runs, or an index CI cannot reach); say why in the marker.

    python .ci/readme_blocks.py [README.md] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FENCE = re.compile(r"(?P<skip><!-- ci: skip \((?P<why>[^)]*)\) -->\s*\n)?"
                   r"```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S)


def blocks(text: str) -> list[dict]:
    found = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        found.append({"lang": m["lang"], "code": m["code"], "line": line,
                      "skip": m["why"] if m["skip"] else None})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[1] / "README.md")
    parser.add_argument("--workdir", type=Path, help="run here (default: a new temp folder)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="readme_"))
    work.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    for block in blocks(args.readme.read_text()):
        where = f"{args.readme.name}:{block['line']} ({block['lang']})"
        if block["skip"]:
            print(f"skip  {where}: {block['skip']}", flush=True)
            continue
        cmd = (["bash", "-euo", "pipefail", "-c", block["code"]] if block["lang"] == "bash"
               else [sys.executable, "-c", block["code"]])
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(f"FAIL  {where} after {seconds:.0f} s, exit {result.returncode}\n"
                  f"--- block ---\n{block['code']}--- stdout (tail) ---\n"
                  f"{result.stdout[-3000:]}\n--- stderr (tail) ---\n{result.stderr[-3000:]}",
                  flush=True)
            return 1
        expected = [line.strip()[len("# -> "):] for line in block["code"].splitlines()
                    if line.strip().startswith("# -> ")]
        printed = result.stdout.strip().splitlines()
        if expected and printed != expected:
            print(f"FAIL  {where}: printed\n  " + "\n  ".join(printed)
                  + "\nbut the README states\n  " + "\n  ".join(expected), flush=True)
            return 1
        print(f"ok    {where}: {seconds:.0f} s", flush=True)
    print(f"README blocks: all ran in {time.perf_counter() - total:.0f} s (in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
