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

from pvsched.calc cimport *
from pvsched.pelt cimport *
from pvsched.structs cimport *
from pvsched.fair cimport *
from pvsched.events cimport *
from pvsched.hist cimport *

cnp.import_array()

include "core.pxi"
include "kvm.pxi"
include "boost.pxi"
include "balance.pxi"
include "spin.pxi"
include "yield.pxi"
include "_pelt_api.pxi"
include "kernel_api.pxi"
include "engine.pxi"
include "yield_api.pxi"
include "audit.pxi"
