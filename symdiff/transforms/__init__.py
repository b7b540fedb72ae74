"""Transforms: IR -> IR programs that compute derivatives."""
