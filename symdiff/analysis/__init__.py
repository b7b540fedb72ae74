"""Facts about IR values that several passes share (shapes that provably agree)."""
