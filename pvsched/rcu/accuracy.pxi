# How right a guest policy's disjunct was (see pvsched/rcu/__init__.py, "Predicate accuracy"):
# every tick on a nohz_full CPU is kept in a per-CPU ring until the CPU next enters a guest or
# the horizon passes; then it is counted as a true/false positive/negative by cause, with the
# consequences (a held-up GP, a needless rcuc wake-up).

cdef void rcu_obs_finalize(rcu_sim_t* r, s32 cpu, rcu_obs_t* o, bint guest) noexcept nogil:
    cdef rcu_cpu_stats_t* st = &r.st[cpu]
    cdef int c = o.cause
    if o.pred:
        if guest:
            st.tp += 1
        else:
            st.fp[c] += 1
            if st.fp_ep_start < 0:
                st.fp_ep_start = o.t
                st.fp_ep_cause = <u8>c
    elif o.decisive:
        if guest:
            st.fn[c] += 1
        else:
            st.tn += 1
    if o.skipped and not o.eqs and not guest:
        st.held[c] += 1
    if o.woke and (o.eqs or guest):
        st.needless[c] += 1

cdef inline void rcu_fp_episode_end(rcu_cpu_stats_t* st, s64 now) noexcept nogil:
    if st.fp_ep_start >= 0:
        st.fp_ns[st.fp_ep_cause] += now - st.fp_ep_start
        st.fp_ep_start = -1

cdef void rcu_obs_age(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # Ticks older than the horizon saw no guest entry in time.
    cdef rcu_obs_t* o
    while r.obs_n[cpu] > 0:
        o = &r.obs[<s64>cpu * r.obs_cap + r.obs_head[cpu]]
        if o.t >= now - r.p.horizon_ns:
            break
        rcu_obs_finalize(r, cpu, o, False)
        r.obs_head[cpu] = (r.obs_head[cpu] + 1) % r.obs_cap
        r.obs_n[cpu] -= 1

cdef void rcu_obs_push(rcu_sim_t* r, s32 cpu, s64 now, int cause, bint pred, bint skipped, bint woke,
                       bint decisive) noexcept nogil:
    cdef rcu_obs_t* o
    cdef s32 k
    rcu_obs_age(r, cpu, now)
    if r.obs_n[cpu] == r.obs_cap:
        rcu_obs_finalize(r, cpu, &r.obs[<s64>cpu * r.obs_cap + r.obs_head[cpu]], False)
        r.obs_head[cpu] = (r.obs_head[cpu] + 1) % r.obs_cap
        r.obs_n[cpu] -= 1
        r.st[cpu].obs_overflow += 1
    k = (r.obs_head[cpu] + r.obs_n[cpu]) % r.obs_cap
    o = &r.obs[<s64>cpu * r.obs_cap + k]
    o.t = now
    o.cause = <u8>cause
    o.pred = pred
    o.skipped = skipped
    o.woke = woke
    o.decisive = decisive
    o.eqs = 0
    r.obs_n[cpu] += 1

cdef void rcu_obs_eqs(rcu_sim_t* r, s32 cpu, s64 now, bint guest) noexcept nogil:
    # The CPU entered an EQS (guest entry resolves every pending tick).
    cdef s32 i, k
    cdef rcu_obs_t* o
    cdef rcu_cpu_stats_t* st = &r.st[cpu]
    rcu_obs_age(r, cpu, now)
    if guest:
        for i in range(r.obs_n[cpu]):
            k = (r.obs_head[cpu] + i) % r.obs_cap
            rcu_obs_finalize(r, cpu, &r.obs[<s64>cpu * r.obs_cap + k], True)
        r.obs_n[cpu] = 0
        rcu_fp_episode_end(st, now)
    else:
        for i in range(r.obs_n[cpu]):
            k = (r.obs_head[cpu] + i) % r.obs_cap
            o = &r.obs[<s64>cpu * r.obs_cap + k]
            o.eqs = 1

cdef void rcu_obs_flush(rcu_sim_t* r, s64 now) noexcept nogil:
    # End of a run: pending ticks resolve as "no guest entry"; open FP time closes at now.
    cdef s32 cpu, i
    cdef rcu_cpu_stats_t* st
    for cpu in range(r.ncpu):
        while r.obs_n[cpu] > 0:
            rcu_obs_finalize(r, cpu, &r.obs[<s64>cpu * r.obs_cap + r.obs_head[cpu]], False)
            r.obs_head[cpu] = (r.obs_head[cpu] + 1) % r.obs_cap
            r.obs_n[cpu] -= 1
        rcu_fp_episode_end(&r.st[cpu], now)

