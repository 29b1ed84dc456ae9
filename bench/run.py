"""Speed benchmark: checker against bandit and semgrep on the same real code, in one run.

    make bench                          # Django's source distribution from PyPI
    python bench/run.py --corpus DIR    # any folder

Reports wall-clock seconds per tool and the ratios. Each timing is the best of --repeat
runs. Nothing here is a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off", "NO_COLOR": "1"}


def fetch_corpus(package: str, dest: Path) -> Path:
    """The unpacked source distribution of ``package`` (downloaded once)."""
    marker = dest / package
    if marker.is_dir():
        return marker
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        package, "-d", tmp], check=True)
        (archive,) = Path(tmp).iterdir()
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (unpacked,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        shutil.move(str(unpacked), marker)
    return marker


def timed(cmd: list[str], cwd: Path | None = None, repeat: int = 1, before=None) -> tuple[float, int]:
    best = float("inf")
    code = 0
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        best = min(best, time.perf_counter() - start)
        code = proc.returncode
        if code not in (0, 1):
            print(f"warning: {' '.join(cmd[:3])} exited {code}: {proc.stderr.decode()[-500:]}", file=sys.stderr)
    return best, code


def count(corpus: Path) -> tuple[int, int]:
    files = [p for p in corpus.rglob("*.py") if p.is_file()]
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    return len(files), lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--package", default="django")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    corpus = args.corpus or fetch_corpus(args.package, HERE / "corpus")
    files, lines = count(corpus)
    cache = corpus / ".checker_cache"
    drop_cache = lambda: shutil.rmtree(cache, ignore_errors=True)  # noqa: E731
    rules = Path(__import__("rules").__file__).parent / "semgrep"
    checker = [str(BIN / "checker"), "scan", str(corpus), "--format", "json", "--fail-on", "never",
               "--jobs", str(args.jobs), "--quiet"]
    results = {}
    results["checker (all engines, cold)"] = timed([*checker, "--no-cache"], repeat=args.repeat)
    results["checker (libcst rules only, cold)"] = timed(
        [*checker, "--no-cache", "--config", str(_engines_off(corpus))], repeat=args.repeat)
    timed(checker, before=drop_cache)  # fill the cache
    results["checker (unchanged re-scan, cache)"] = timed(checker, repeat=args.repeat)
    results["bandit (all tests)"] = timed([str(BIN / "bandit"), "-r", str(corpus), "-f", "json", "-q"],
                                          repeat=args.repeat)
    results["semgrep (checker's YAML rules)"] = timed(
        [str(BIN / "semgrep"), "scan", "--config", str(rules), "--metrics=off", "--json", "--quiet",
         "--disable-version-check", str(corpus)], repeat=args.repeat)
    drop_cache()
    bandit = results["bandit (all tests)"][0]
    semgrep = results["semgrep (checker's YAML rules)"][0]
    print(f"corpus: {corpus} ({files} Python files, {lines} lines), jobs={args.jobs}, best of {args.repeat}")
    print(f"{'tool':42} {'seconds':>8} {'x bandit':>9} {'x semgrep':>10}")
    for name, (seconds, _) in results.items():
        print(f"{name:42} {seconds:8.2f} {seconds / bandit:9.2f} {seconds / semgrep:10.2f}")
    out = HERE / "results.json"
    out.write_text(json.dumps({"corpus": str(corpus), "files": files, "lines": lines, "jobs": args.jobs,
                               "seconds": {k: round(v[0], 3) for k, v in results.items()}}, indent=2) + "\n")
    return 0


def _engines_off(corpus: Path) -> Path:
    path = Path(tempfile.mkdtemp()) / ".checker.yml"
    path.write_text("engines:\n  semgrep: false\n  bandit: false\nexclude: []\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
