"""The guest kernel model: the workload interpreter and guest synchronisation (spinlocks, IPI sync). Cython units compiled into pvsched._core."""
