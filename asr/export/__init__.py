"""Model files for use outside a recipe: the one-file `.asr` package (`asr export`, loaded by `asr transcribe`)."""
