"""Facts about IR values that several stages share: shapes that provably agree
(`shapes`), integer values and their signs (`integers`), indexes that provably
reach disjoint elements (`indexes`)."""
