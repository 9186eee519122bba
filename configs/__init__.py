"""Label schemas (``schema/``) and run configs, installed as ``rasd.configs`` package data
(read through ``rasd.inference.resources``, so ``configs/...`` names work from any directory)."""
