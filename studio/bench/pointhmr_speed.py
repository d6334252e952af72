"""``studio bench pointhmr``: milliseconds per crop of PointHMR (random weights) at each
batch size, for the official architecture (HRNet-W32, 431 coarse vertices, random
stand-ins for the SMPL-derived matrices, which only change values, not cost), the
light variant (small HRNet, narrower tokens, the mannequin's 438-vertex mesh) and the
built-in one (:data:`studio.nets.pointhmr_builtin.BUILTIN`: proxy maps at 64 px)."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

BATCHES = "1,16"
REPEATS = 3
VARIANTS = ("official", "light", "builtin")


def _stand_in_upsampling(rows: int, cols: int, seed: int) -> object:
    """Three non-zeros per row, as in the official up-sampling matrices."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, cols, size=rows * 3)
    return sp.csr_matrix((np.full(rows * 3, 1 / 3), (np.repeat(np.arange(rows), 3), idx)),
                         shape=(rows, cols))


def build_variant(name: str) -> object:
    """A PointHMR of variant ``name`` with random weights, eval mode."""
    import scipy.sparse as sp

    from studio.nets.pointhmr import LIGHT, OFFICIAL, PointHMR
    from studio.nets.pointhmr_mesh import mannequin_matrices

    if name == "builtin":
        from studio.body.model import BodyModel
        from studio.body.registry import find_body_model
        from studio.nets import pointhmr_builtin

        return pointhmr_builtin.build(BodyModel(find_body_model("mannequin"))).eval()
    if name == "light":
        m = mannequin_matrices()
        return PointHMR(LIGHT, m["adjacency"], m["upsample_coarse_to_mid"],
                        m["upsample_mid_to_full"]).eval()
    v = OFFICIAL.vertices
    ring = sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(v[0], v[0]))
    return PointHMR(OFFICIAL, ring, _stand_in_upsampling(v[1], v[0], 1),
                    _stand_in_upsampling(v[2], v[1], 2)).eval()


def pointhmr_speed(variants: list[str], batches: list[int], repeats: int, device: object,
                   official_big_batch_repeats: int = 1) -> dict:
    """Median ms per crop over ``repeats`` timed runs after one warm-up at batch 1 (the
    official model runs batches above 1 ``official_big_batch_repeats`` times: ~1 s/crop)."""
    import torch

    results = []
    for name in variants:
        model = build_variant(name).to(device)
        size, channels = model.config.input_size, model.config.backbone.in_channels
        params = sum(p.numel() for p in model.parameters())
        with torch.no_grad():
            model(torch.randn(1, channels, size, size, device=device))  # warm-up
            for batch in batches:
                images = torch.randn(batch, channels, size, size, device=device)
                runs = official_big_batch_repeats if name == "official" and batch > 1 \
                    else repeats
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    model(images)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - start)
                ms = statistics.median(times) * 1000
                results.append({"variant": name, "vertices": list(model.config.vertices),
                                "backbone": ("pymaf-small" if model.config.proxy_pyramid
                                             else "hrnet"),
                                "backbone_widths": list(_widths(model)),
                                "params_m": round(params / 1e6, 2), "input_size": size,
                                "batch": batch, "repeats": runs,
                                "ms_per_batch": round(ms, 1), "ms_per_crop": round(ms / batch, 1)})
        del model
    return {"torch": torch.__version__, "device": str(device),
            "threads": torch.get_num_threads(), "results": results,
            "notes": ["random weights; median of the repeats after one warm-up at batch 1",
                      "absolute times are comparable only within one run"]}


def _widths(model: object) -> tuple[int, ...]:
    """The HRNet's branch widths, or the PyMAF encoder's stage widths and pyramid width."""
    if not model.config.proxy_pyramid:
        return model.config.backbone.widths
    resnet = model.backbone.feature_extractor
    return (*(getattr(resnet, f"layer{i}")[0].conv1.out_channels for i in range(1, 5)),
            model.config.proxy_pyramid)


def pointhmr_table(doc: dict) -> str:
    lines = [f"PointHMR speed: torch {doc['torch']}, {doc['device']}, {doc['threads']} threads",
             f"{'variant':<10}{'vertices':>9}{'params M':>10}{'batch':>7}{'runs':>6}"
             f"{'ms/crop':>10}"]
    for r in doc["results"]:
        lines.append(f"{r['variant']:<10}{r['vertices'][0]:>9}{r['params_m']:>10.1f}"
                     f"{r['batch']:>7}{r['repeats']:>6}{r['ms_per_crop']:>10.1f}")
    return "\n".join(lines)


def _variants(text: str) -> list[str]:
    chosen = [v.strip() for v in text.split(",") if v.strip()]
    if not chosen or not set(chosen) <= set(VARIANTS):
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(VARIANTS)}")
    return chosen


def add_bench_pointhmr(sub: argparse._SubParsersAction,
                       common_options: Callable[[argparse.ArgumentParser], None],
                       apply_common: Callable[[argparse.Namespace], object],
                       int_list: Callable[[str], list[int]]) -> None:
    """The ``pointhmr`` benchmark's parser (options as every benchmark takes them)."""
    parser = sub.add_parser(
        "pointhmr",
        description="Milliseconds per crop of PointHMR with random weights: the "
                    "official architecture (HRNet-W32, 431 vertices, 224 px; batches above 1 "
                    "run once, it takes about a second per crop on a CPU), the light variant "
                    "(small HRNet, the mannequin's 438-vertex mesh, 224 px) and the built-in "
                    "one (34 proxy maps at 64 px, what `--model builtin-pointhmr` runs).")
    common_options(parser)
    parser.add_argument("--variants", type=_variants, default=list(VARIANTS), metavar="A,B",
                        help=f"which of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--batch-sizes", type=int_list, default=int_list(BATCHES),
                        metavar="1,16", help=f"default {BATCHES}")
    parser.add_argument("--repeats", type=int_list, default=[REPEATS], metavar="N",
                        help=f"timed runs per configuration (default {REPEATS})")

    def run(args: argparse.Namespace) -> int:
        doc = pointhmr_speed(args.variants, args.batch_sizes, args.repeats[0],
                             apply_common(args))
        doc["thread_choice"] = args.thread_choice.as_dict()
        print(json.dumps(doc, indent=2) if args.json else pointhmr_table(doc))
        return 0

    parser.set_defaults(func=run)
