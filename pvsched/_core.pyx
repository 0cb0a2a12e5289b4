# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""pvsched's C-level core: the event engine, host scheduler classes and kernel-rule entry points.

Python reaches this module through :mod:`pvsched.kernel` (step-by-step kernel rules) and
:class:`pvsched.Simulation` (whole scenarios); both run this same C code.
"""
from libc.stdlib cimport calloc, malloc, free, realloc
from libc.string cimport memset, memcpy
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, uint8_t

import numpy as np
cimport numpy as cnp

from pvsched.sched.calc cimport *
from pvsched.sched.pelt cimport *
from pvsched.sched.sched cimport *
from pvsched.guest.workload cimport *
from pvsched.guest.sync cimport *
from pvsched.policies.boost cimport *
from pvsched.policies.debooster cimport *
from pvsched.policies.ipi_aware_yield cimport *
from pvsched.policies.halted_pelt cimport *
from pvsched.sched.tick_sched cimport *
from pvsched.guest.hwnoise cimport *
from pvsched.policies.deferred_work cimport *
from pvsched.policies.hooks cimport *
from pvsched.kvm.kvm_host cimport *
from pvsched.kvm.kvm_run cimport *
from pvsched.engine.events cimport *
from pvsched.engine.hist cimport *
from pvsched.engine.trace cimport *
from pvsched.engine.sim cimport *
from pvsched.sched.tick_sched cimport *
from pvsched.policies.rcu_guest cimport *
from pvsched.rcu.tree cimport *

cnp.import_array()

include "sched/fair_tree.pxi"
include "sched/fair.pxi"
include "sched/cfs.pxi"
include "sched/load_avg.pxi"
include "sched/cgroup.pxi"
include "sched/fair_class.pxi"
include "sched/rt.pxi"
include "sched/deadline.pxi"
include "sched/core.pxi"
include "sched/syscalls.pxi"
include "sched/balance.pxi"
include "rcu/tree.pxi"
include "rcu/context_tracking.pxi"
include "rcu/accuracy.pxi"
include "sched/tick_sched.pxi"
include "guest/workload.pxi"
include "guest/sync.pxi"
include "guest/hwnoise.pxi"
include "kvm/vcpu.pxi"
include "kvm/halt.pxi"
include "kvm/lapic.pxi"
include "kvm/directed_yield.pxi"
include "kvm/mwait.pxi"
include "kvm/userspace.pxi"
include "kvm/vmm_actions.pxi"
include "policies/boost.pxi"
include "policies/debooster.pxi"
include "policies/ipi_aware_yield.pxi"
include "policies/rcu_guest.pxi"
include "policies/halted_pelt.pxi"
include "policies/deferred_work.pxi"
include "policies/deferred_work_api.pxi"
include "policies/hooks.pxi"
include "engine/trace.pxi"
include "rcu/rcu_api.pxi"
include "engine/loop.pxi"
include "engine/input.pxi"
include "engine/build.pxi"
include "sched/pelt_api.pxi"
include "sched/kernel_api.pxi"
include "engine/engine.pxi"
include "policies/python.pxi"
include "rcu/rcu_engine.pxi"
include "engine/probes.pxi"
include "engine/audit.pxi"
include "rcu/machine.pxi"
include "policies/halted_pelt_api.pxi"
