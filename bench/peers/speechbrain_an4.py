"""The peer's side of `make bench-peers`: our AN4 training setup built in SpeechBrain's own idiom, run in
SpeechBrain's venv (bench/peers/run.py makes it; this file imports nothing of ours).

    python speechbrain_an4.py MANIFEST_JSON --epochs 3 --threads 2 --seed 1 --out OUT_JSON

`sb.Brain`; a `DynamicItemDataset` from a JSON manifest whose pipeline reads each WAV; `DynamicBatchSampler`
(at most 62 s of audio a batch, 20 buckets: 48 batches an epoch of ~4,780 input frames on
average, as ours); `Fbank(n_mels=80)` on the fly; global `InputNormalization`;
SpecAugment as SpeechBrain does it (`SpectrogramDrop` over time and frequency, our policy's counts and widths);
3 frames stacked and subsampled by 3; `speechbrain.nnet.RNN.LSTM` 3 x 192 bidirectional (dropout 0.2); a
`Linear` to the 36 phone outputs (blank 0); `ctc_loss`; Adam, lr 0.002. Writes the input frames per second of
each epoch's training (as our log counts them: feature frames of the utterances, padding excluded).
"""

import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("manifest")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-seconds", type=float, default=62.0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    import speechbrain as sb
    from speechbrain.augment.freq_domain import SpectrogramDrop
    from speechbrain.dataio.dataset import DynamicItemDataset
    from speechbrain.dataio.sampler import DynamicBatchSampler
    from speechbrain.lobes.features import Fbank
    from speechbrain.nnet.linear import Linear
    from speechbrain.nnet.losses import ctc_loss
    from speechbrain.nnet.RNN import LSTM
    from speechbrain.processing.features import InputNormalization
    from speechbrain.utils.epoch_loop import EpochCounter

    data = DynamicItemDataset.from_json(args.manifest)

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return sb.dataio.dataio.read_audio(wav)

    @sb.utils.data_pipeline.takes("phones")
    @sb.utils.data_pipeline.provides("tokens")
    def text_pipeline(phones):
        return torch.LongTensor([int(t) for t in phones.split()])

    data.add_dynamic_item(audio_pipeline)
    data.add_dynamic_item(text_pipeline)
    data.set_output_keys(["id", "sig", "tokens"])
    sampler = DynamicBatchSampler(data, max_batch_length=args.batch_seconds, num_buckets=20,
                                  length_func=lambda x: x["duration"], shuffle=True, seed=args.seed)

    stack = 3
    modules = {
        "fbank": Fbank(n_mels=80),
        "normalize": InputNormalization(norm_type="global"),
        "lstm": LSTM(hidden_size=192, input_shape=[None, None, 80 * stack], num_layers=3, bidirectional=True,
                     dropout=0.2),
        "out": Linear(input_size=2 * 192, n_neurons=36),
    }
    hparams = {"time_drop": SpectrogramDrop(drop_length_low=0, drop_length_high=20, drop_count_low=2,
                                            drop_count_high=2, dim=1),
               "freq_drop": SpectrogramDrop(drop_length_low=0, drop_length_high=15, drop_count_low=2,
                                            drop_count_high=2, dim=2)}

    class CTCBrain(sb.Brain):
        def compute_forward(self, batch, stage):
            batch = batch.to(self.device)
            wavs, wav_lens = batch.sig
            feats = self.modules.fbank(wavs)
            feats = self.modules.normalize(feats, wav_lens)
            if stage == sb.Stage.TRAIN:
                self.frames += int((wav_lens * feats.shape[1]).round().sum())
                feats = self.hparams.freq_drop(self.hparams.time_drop(feats))
            n, t, d = feats.shape
            t3 = t // stack * stack
            x = feats[:, :t3].reshape(n, t3 // stack, d * stack)  # 3 frames stacked, subsampled by 3
            x, _ = self.modules.lstm(x)
            return torch.log_softmax(self.modules.out(x), dim=-1), wav_lens

        def compute_objectives(self, predictions, batch, stage):
            log_probs, lens = predictions
            tokens, token_lens = batch.tokens
            return ctc_loss(log_probs, tokens, lens, token_lens, blank_index=0)

        def on_stage_start(self, stage, epoch=None):
            if stage == sb.Stage.TRAIN:
                self.frames, self.t0 = 0, time.perf_counter()

        def on_stage_end(self, stage, stage_loss, epoch=None):
            if stage == sb.Stage.TRAIN:
                rate = self.frames / (time.perf_counter() - self.t0)
                self.rates.append(rate)
                print(f"speechbrain epoch {epoch}: train loss {stage_loss:.3f}, {rate:.0f} frames/s", flush=True)

    brain = CTCBrain(modules=modules, opt_class=lambda params: torch.optim.Adam(params, lr=0.002), hparams=hparams,
                     run_opts={"device": "cpu"})
    brain.rates = []
    params = sum(p.numel() for p in brain.modules.parameters())
    print(f"speechbrain {sb.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{len(data)} utterances, {params:,} parameters", flush=True)
    brain.fit(EpochCounter(args.epochs), data, train_loader_kwargs={"batch_sampler": sampler})
    with open(args.out, "w") as f:
        json.dump({"frames_per_s": brain.rates, "parameters": params, "version": sb.__version__}, f)


if __name__ == "__main__":
    main()
