"""rasd.training: corpora, conversion, validation, fine-tuning, pretraining and evaluation.

Submodules are imported where they are used, so ``import rasd.training`` stays cheap.
"""
