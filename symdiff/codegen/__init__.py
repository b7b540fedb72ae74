"""Codegen: IR -> readable Python source (LibCST trees, never strings)."""
