#!/usr/bin/env python3
"""Training speed of each recurrent cell: frames/s of forward + backward through one bidirectional encoder
layer, and the time relative to the fused nn.LSTM of the same size (issue 8: written-out cells within 2x).

    .venv/bin/python scripts/bench_cells.py                     # AN4-recipe sizes, 2 threads
    .venv/bin/python scripts/bench_cells.py --cells lstm,cifg --proj 160 --threads 1

Runs are interleaved (one repeat of every cell, then the next repeat) so that load from other processes
spreads evenly; the best repeat is reported, as `timeit` does. A "frame" is one step of the layer (after the
encoder's frame stacking, i.e. 30 ms with the default stack/subsample of 3).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from asr.model.cells import CELLS
from asr.model.model import recurrent_layer


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", default=",".join(CELLS), help="comma-separated cell types (default: all)")
    p.add_argument("--input", type=int, default=240, help="input size (80 fbank x 3 stacked frames)")
    p.add_argument("--hidden", type=int, default=256, help="cells per direction (AN4 recipe: 256)")
    p.add_argument("--proj", type=int, default=0, help="LSTMP recurrent projection size (LSTM kinds only)")
    p.add_argument("--batch", type=int, default=24, help="sequences per batch (AN4: 10000 frames a batch)")
    p.add_argument("--frames", type=int, default=140, help="longest sequence in the batch (layer steps)")
    p.add_argument("--equal-lengths", action="store_true",
                   help="all sequences as long as the longest (lets nn.LSTM use its oneDNN kernel on CPU)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def make_step(cell: str, args, x: torch.Tensor, lengths: torch.Tensor):
    """A closure running forward + backward once (and zeroing the gradients)."""
    layer = recurrent_layer(cell, args.input, args.hidden, True, 0 if "gru" in cell else args.proj)
    if getattr(layer, "takes_padded", False):
        def run():
            return layer(x, lengths)[0]
    else:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        def run():
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            return pad_packed_sequence(layer(packed)[0], batch_first=True, total_length=x.shape[1])[0]
    with torch.no_grad():
        weight = torch.randn_like(run())  # a random loss, so every output gets its own gradient

    def step():
        layer.zero_grad(set_to_none=True)
        y = run()
        (y * weight).sum().backward()

    return layer, step


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cells = [c for c in args.cells.split(",") if c]
    if "lstm" not in cells:
        cells.insert(0, "lstm")
    for c in cells:
        if c not in CELLS:
            sys.exit(f"bench_cells: unknown cell '{c}' (choose from {', '.join(CELLS)})")
    # A length-bucketed batch: lengths within 10% of the longest, as the training sampler makes them.
    lengths = torch.randint(int(args.frames * 0.9), args.frames + 1, (args.batch,))
    lengths[0] = args.frames
    if args.equal_lengths:
        lengths.fill_(args.frames)
    x = torch.randn(args.batch, args.frames, args.input)
    steps, params = {}, {}
    for c in cells:
        layer, steps[c] = make_step(c, args, x, lengths)
        params[c] = sum(p.numel() for p in layer.parameters())
        steps[c]()  # warm-up: TorchScript profiles and optimises the first runs
        steps[c]()
    times = {c: [] for c in cells}
    for _ in range(args.repeats):
        for c in cells:
            t0 = time.perf_counter()
            steps[c]()
            times[c].append(time.perf_counter() - t0)
    frames = int(lengths.sum())
    base = min(times["lstm"])
    print(f"# {args.threads} threads; batch {args.batch} x <= {args.frames} frames, input {args.input}, "
          f"hidden {args.hidden} x 2 directions, proj {args.proj}"
          f"{', equal lengths' if args.equal_lengths else ''}; forward + backward, best of {args.repeats}")
    print(f"{'cell':10s} {'params':>9s} {'frames/s':>9s} {'median/s':>9s} {'time vs lstm':>12s}")
    for c in cells:
        best = min(times[c])
        print(f"{c:10s} {params[c]:9d} {frames / best:9.0f} {frames / statistics.median(times[c]):9.0f} "
              f"{best / base:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
