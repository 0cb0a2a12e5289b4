# cython: language_level=3
"""rtla hwnoise (kernel/trace/trace_osnoise.c, osnoise with interrupts disabled): per-task state.

One sampling window of ``run_osnoise()``: the thread reads the (guest) clock in a tight loop with
interrupts off; ``noise = sample - last_sample``; a noise of at least the threshold is a gap
(counted, summed, maximised; with interrupts off every gap is "HW" noise); the window ends at
the first sample with ``sample - start >= runtime`` -- so a gap spanning the end is counted whole
and stretches the window. The guest clock (kvm-clock/TSC) runs while the vCPU is preempted, so a
gap is wall time during which the task did not execute. Then ``osnoise_sleep()`` sleeps
``period - runtime`` relative to that moment.
"""
from libc.stdint cimport int64_t, uint64_t, uint8_t


cdef struct hwnoise_t:
    uint8_t on              # a window is open (the op ran, its end not yet reached)
    uint8_t running         # the task executes now
    int64_t runtime
    int64_t threshold
    int64_t count_from      # windows ending before this time are not counted (warm-up)
    int64_t start           # first execution in the window, -1 = not yet
    int64_t deadline        # start + runtime
    int64_t stop            # when the task last stopped executing
    int64_t w_noise         # this window: sum of gaps >= threshold
    int64_t w_max           # this window: largest gap >= threshold
    uint64_t w_gaps
    uint64_t periods        # counted windows, and their totals
    int64_t runtime_ns
    int64_t noise_ns
    int64_t max_noise_ns    # largest noise of one window
    int64_t max_single_ns   # largest single gap
    uint64_t gaps
