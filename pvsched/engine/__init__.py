"""The engine: event queue, histograms, the run loop, building a simulation from a compiled scenario. Cython units compiled into pvsched._core."""
