"""The whole lake on a laptop: an embedded AWS emulator and the very same workload code."""
