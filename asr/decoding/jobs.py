"""The decode stage in N jobs, as Kaldi's `steps/decode.sh --nj N --cmd ...`: the data dir's parts
`split<N>utt/{1..N}` (`split<N>/`, whole speakers, for a speaker graph's decoder) are decoded by asr.parallel
(`local` process pool or a `slurm` job array), part j into `DECODE_DIR/split<N>/<j>/` and logging to
`DECODE_DIR/log/decode.<j>.log`; their hypotheses are then merged into `DECODE_DIR/text` with `decode.yaml`. Each
job loads the model and decodes its part as one data dir, so the hypotheses are those of one job (batches of
fewer utterances may differ in the last float bits only). An LM weight search needs every utterance in one place:
it is refused with nj > 1 (tune on dev with one job, then pass `--lm-params` to the jobs, which `asr decode
--decoders ... --tune-on dev --nj N` does: asr.decoding.sets).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from asr.data.kaldi_files import read_table, write_table
from asr.data.subset import split_data_dir
from asr.decoding.config import DecoderConfig
from asr.decoding.decode import decode_data_dir
from asr.errors import ConfigError
from asr.fileio import atomic_write_text
from asr.model.store import read_decoding
from asr.parallel import run_jobs


def decode_job(model_dir: str, data_dir: str, out_dir: str, device: str, config: dict) -> str:
    """One job: decode one part (a data dir) into `out_dir/text`."""
    return str(decode_data_dir(model_dir, data_dir, out_dir, device=device, progress=False,
                               config=DecoderConfig(**config)))


def decode_in_jobs(model_dir: str | os.PathLike, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                   nj: int, cmd: str = "local", device: str = "cpu", config: DecoderConfig | None = None) -> Path:
    """Decode `data_dir` in `nj` jobs through `cmd` into `out_dir/text` (see the module doc)."""
    config = (config or DecoderConfig()).check()
    if config.tuned:
        raise ConfigError(f"--nj {nj}: an LM weight search needs the whole data dir in one job; search with "
                          "--nj 1 (on dev), then decode in jobs with --lm-params")
    data_dir, out = Path(data_dir), Path(out_dir)
    graph = config.speaker_graph if config.speaker_graph is not None else read_decoding(model_dir).get("speaker_graph")
    by_speaker = bool(graph)  # a speaker graph decides each speaker's utterances together: in one job
    nj = max(1, min(nj, len(read_table(data_dir / ("spk2utt" if by_speaker else "utt2spk")))))
    parts = split_data_dir(data_dir, nj, per_utt=not by_speaker)  # feats.yaml travels with feats.scp
    jobs = [(str(model_dir), str(part), str(out / f"split{nj}" / str(j)), device, dataclasses.asdict(config))
            for j, part in enumerate(parts, 1)]
    texts = run_jobs(decode_job, jobs, cmd, out / "log", "decode")
    hyps = {}
    for text in texts:
        hyps.update(read_table(text))
    write_table(out / "text", hyps)
    settings = yaml.safe_load((Path(texts[0]).parent / "decode.yaml").read_text())  # as the jobs resolved it
    atomic_write_text(out / "decode.yaml", yaml.safe_dump({**settings, "data": str(data_dir), "nj": nj},
                                                           sort_keys=False))
    return out / "text"
