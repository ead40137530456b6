"""Would ONNX Runtime decode our model faster than PyTorch here? (issue #6; the answer here: not end to end.)

    .venv/bin/pip install onnx onnxruntime      # not project dependencies: only this measurement uses them
    .venv/bin/python scripts/bench_onnx.py --model egs/an4/exp/model --data bench/work/data/eval_x1 --threads 1

Exports the encoder and output layer (stacked features -> log-probs; CMVN and frame stacking stay in PyTorch,
`CTCModel.frontend`) to ONNX in memory, checks that ONNX Runtime gives the same log-probs (within float rounding)
and greedy paths, then times, alternating, the model's forward over the data dir's utterances: PyTorch one
utterance at a time, ONNX Runtime one at a time (each at its own length: no padding, so exact), and PyTorch on
the length-bucketed batches `asr decode` uses. Fused lstm/gru models without recurrent projection only.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings

import torch
import torch.nn.functional as F

from asr.decoding.decode import MAX_FRAMES
from asr.model.fused import _PaddedRNN
from asr.model.model import CTCModel
from asr.model.store import load_model_dir
from asr.data.dataset import FeatureDataset
from asr.data.sampler import BucketBatchSampler


class Head(torch.nn.Module):
    """Stacked features (1, T', C) -> log-probs (1, T', V), each recurrent layer one full-length call."""

    def __init__(self, model: CTCModel):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.model.encoder
        for rnn, proj in zip(enc.rnns, enc.projs):
            x = super(_PaddedRNN, rnn).forward(x)[0]  # nn.LSTM / nn.GRU itself
            if enc.use_proj:
                x = torch.tanh(proj(x))
        return F.log_softmax(self.model.output(x), dim=-1)


def onnx_session(model: CTCModel, threads: int):
    import onnxruntime as ort

    buf = io.BytesIO()
    example = torch.zeros(1, 7, model.config.input_dim * model.config.stack_frames)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Head(model).eval(), (example,), buf, input_names=["x"], output_names=["log_probs"],
                          dynamic_axes={"x": {1: "time"}, "log_probs": {1: "time"}}, dynamo=False, opset_version=17)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="a data dir with feats.scp")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model_dir(args.model).model.eval()
    data = FeatureDataset(args.data)
    audio_s = sum(data.num_frames) / 100
    t = time.perf_counter()
    session = onnx_session(model, args.threads)
    print(f"export + session: {time.perf_counter() - t:.2f} s")
    with torch.inference_mode():
        inputs = [model.frontend(f[None], torch.tensor([f.shape[0]]))[0] for f in data.feats]
        batches = [data.collate(b) for b in BucketBatchSampler(data.num_frames, MAX_FRAMES, shuffle=False)]

        head = Head(model).eval()

        def torch_each():
            return [head(x) for x in inputs]

        def ort_each():
            return [torch.from_numpy(session.run(None, {"x": x.numpy()})[0]) for x in inputs]

        def torch_batched():
            return [model(b.feats, b.lengths) for b in batches]

        a, b = torch_each(), ort_each()
    diff = max(float((x - y).abs().max()) for x, y in zip(a, b))
    same = all(torch.equal(x.argmax(-1), y.argmax(-1)) for x, y in zip(a, b))
    print(f"largest log-prob difference {diff:.2e}; greedy paths equal: {same}")
    runs = {"pytorch, one utterance at a time": torch_each, "onnxruntime, one utterance at a time": ort_each,
            "pytorch, asr decode's batches": torch_batched}
    times = {k: [] for k in runs}
    with torch.inference_mode():
        for _ in range(args.repeats):
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    for name, ts in times.items():
        print(f"{name:40s} {audio_s / statistics.median(ts):7.0f}x real time")


if __name__ == "__main__":
    main()
