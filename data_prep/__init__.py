"""Corpus preparation: one module per corpus, official layout in -> Kaldi data directories out."""
