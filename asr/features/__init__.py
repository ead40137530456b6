"""Kaldi-compatible features: fbank/MFCC (functional core + module wrapper), CMVN, ark/scp extraction."""

from asr.features.kaldi import FeatureConfig, FeatureExtractor, compute_features

__all__ = ["FeatureConfig", "FeatureExtractor", "compute_features"]
