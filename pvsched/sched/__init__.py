"""The kernel scheduler (kernel/sched/): entities and runqueues, fixed-point math, EEVDF/CFS, RT, core, PELT, balancing, cgroups. Cython units compiled into pvsched._core."""
