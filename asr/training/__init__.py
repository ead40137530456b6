"""Training: dataset over feats.scp, length-bucketed batches, the loop, checkpoints."""
