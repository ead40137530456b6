"""Text units: tokenizers and normalisation."""
