"""Training: the loop (trainer) and its set-up (run), checkpoints, data-parallel processes, what rank 0 writes
(exp_writer), batches made ahead (loader), SpecAugment, screening, checkpoint averaging."""
