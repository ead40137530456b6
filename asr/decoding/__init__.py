"""Decoders from CTC log-probabilities to token ids / text."""
