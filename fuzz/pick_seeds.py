#!/usr/bin/env python3
"""Pick a small seed corpus for a fuzz target from a large one, by scenario.

    fuzz/pick_seeds.py TARGET DIR... [--out fuzz/corpus/TARGET]

Builds the target with -DFUZZ_TRACE (each input then prints "@tag NAME" for
what it exercised: an operation on a kind of view, an import outcome, a
dtype, a tensor's metadata...), replays every file of the given corpus
directories (typically build-fuzz/corpus/TARGET after a long run), and picks
a greedy set cover of the tags: first the input that covers the most tags not
yet covered per byte, until every tag is covered.  Each pick is
written to --out named after the rarest tag it was picked for, so the
committed seeds say what they are for.  With --replace the files already
there are removed first; otherwise they are kept unless a pick has the same
name.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(target):
    exe = os.path.join(ROOT, "build-fuzz", "trace_" + target)
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    sources = [os.path.join(ROOT, "fuzz", "fuzz_%s.c" % target),
               os.path.join(ROOT, "fuzz", "standalone.c")]
    sources += sorted(os.path.join(ROOT, "src", f) for f in os.listdir(os.path.join(ROOT, "src"))
                      if f.endswith(".c"))
    subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-O1", "-DFUZZ_TRACE",
                    "-D_POSIX_C_SOURCE=200809L", "-DXBUF_BUILDING", "-I" + os.path.join(ROOT, "include"),
                    "-I" + os.path.join(ROOT, "src"), "-o", exe] + sources + ["-lm"], check=True)
    return exe


def tags_of(exe, files):
    """{file: set of tags}, replaying in batches."""
    result = {}
    for start in range(0, len(files), 200):
        batch = files[start:start + 200]
        out = subprocess.run([exe] + batch, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             check=True).stdout.decode("utf-8", "replace")
        current = None
        for line in out.splitlines():
            m = re.match(r"replaying (.*) \(\d+ bytes\)$", line)
            if m:
                current = m.group(1)
                result[current] = set()
            elif line.startswith("@tag ") and current is not None:
                result[current].add(clean(line[5:]))
    return result


def clean(tag):
    tag = tag.split(":")[0]  # "XBUF_EINVAL: invalid argument" -> "XBUF_EINVAL"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", tag).strip("_") or "none"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target")
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--out")
    ap.add_argument("--replace", action="store_true")
    args = ap.parse_args()
    out = args.out or os.path.join(ROOT, "fuzz", "corpus", args.target)
    files = [os.path.join(d, f) for d in args.dirs for f in sorted(os.listdir(d))
             if not f.startswith(".")]
    tags = tags_of(build(args.target), files)
    count = collections.Counter(t for ts in tags.values() for t in ts)
    uncovered = set(count)
    size = {f: os.path.getsize(f) for f in tags}
    picks = []
    while uncovered:
        # Tags gained per byte (plus a little, so tiny files do not win
        # with one tag each): small seeds that each say a few things.
        best = max(tags, key=lambda f: (len(tags[f] & uncovered) / (size[f] + 64), -size[f]))
        gained = tags[best] & uncovered
        if not gained:
            break
        rarest = min(gained, key=lambda t: (count[t], t))
        picks.append((rarest, best))
        uncovered -= gained
    os.makedirs(out, exist_ok=True)
    if args.replace:
        for old in os.listdir(out):
            os.remove(os.path.join(out, old))
    for name, f in picks:
        with open(f, "rb") as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
    print("%s: %d tags, %d seeds written to %s" % (args.target, len(count), len(picks), out))


if __name__ == "__main__":
    sys.exit(main())
