"""``studio bench people``: milliseconds per photo for finding everyone in made group
photos of 1 to 10 people (:func:`studio.pipeline.group_photo.group_photo`), split into
the detector (whole photo and tiles), the landmark stage (once per person) and the
paint-over search for whom the detector missed."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from studio.errors import StudioError

COUNTS = "1,5,10"
REPEATS = 3
PARTS = ("detector", "landmarks", "search")


def people_speed(counts: list[int], repeats: int = REPEATS) -> dict:
    """Median ms per photo (and per part) over ``repeats`` runs after one warm-up, with
    how many of the pasted people were found (the nose inside their own picture)."""
    from studio.pipeline.group_photo import group_photo
    from studio.pipeline.people import PersonFinder

    results = []
    with PersonFinder() as finder:
        for count in counts:
            photo, frames = group_photo(count)
            finder.find(photo, max_people=count)
            runs, parts = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                people = finder.find(photo, max_people=count)
                runs.append((time.perf_counter() - start) * 1000.0)
                parts.append(dict(finder.timings))
            found = sum(any(x0 <= p.landmarks[0, 0] <= x1 and y0 <= p.landmarks[0, 1] <= y1
                            for p in people) for x0, y0, x1, y1 in frames)
            results.append({
                "people": count, "found": found, "reported": len(people),
                "width": photo.shape[1], "height": photo.shape[0],
                "ms": round(statistics.median(runs), 1),
                "parts_ms": {k: round(statistics.median(p[k] for p in parts), 1)
                             for k in PARTS},
                "detections": int(parts[-1]["detections"])})
    return {"repeats": repeats, "results": results}


def people_table(doc: dict) -> str:
    """The readable form of the benchmark's JSON document."""
    lines = [f"finding people in made group photos, median of {doc['repeats']} runs",
             f"{'people':>6}{'found':>7}{'size':>11}{'ms':>8}"
             + "".join(f"{k:>11}" for k in PARTS)]
    for r in doc["results"]:
        lines.append(f"{r['people']:>6}{r['found']:>7}{r['width']:>6}x{r['height']:<4}"
                     f"{r['ms']:>8.1f}" + "".join(f"{r['parts_ms'][k]:>11.1f}" for k in PARTS))
    return "\n".join(lines)


def add_bench_people(sub: argparse._SubParsersAction,
                     common_options: Callable[[argparse.ArgumentParser], None],
                     apply_common: Callable[[argparse.Namespace], object],
                     int_list: Callable[[str], list[int]]) -> None:
    """The ``people`` benchmark's parser (options as every benchmark takes them)."""
    parser = sub.add_parser(
        "people",
        description="Milliseconds per photo for finding everyone (BlazePose's detector on "
                    "the photo and its tiles, MediaPipe Pose's landmarks per person, the "
                    "fallback search) in made group photos of the built-in samples' people.")
    common_options(parser)
    parser.add_argument("--counts", type=int_list, default=int_list(COUNTS), metavar="N,N",
                        help=f"people per photo (default {COUNTS})")
    parser.add_argument("--repeats", type=int, default=REPEATS, metavar="N",
                        help=f"timed runs per photo after one warm-up (default {REPEATS})")

    def run(args: argparse.Namespace) -> int:
        if args.repeats < 1 or not args.counts or min(args.counts) < 1:
            raise StudioError("--repeats and every --counts value must be at least 1")
        apply_common(args)
        doc = people_speed(args.counts, args.repeats)
        doc["thread_choice"] = args.thread_choice.as_dict()
        print(json.dumps(doc, indent=2) if args.json else people_table(doc))
        return 0

    parser.set_defaults(func=run)
