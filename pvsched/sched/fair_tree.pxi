# The fair class's timeline (kernel/sched/fair.c, rbtree augmented with min_vruntime/min_slice):
# ordered by deadline (equal keys go right, so equal deadlines are FIFO); each node keeps the
# minimum vruntime and slice of its subtree. A treap: any balanced BST gives the same in-order
# sequence, and pick_eevdf depends only on that sequence and the augments.

cdef inline u32 treap_prio(s32 idx) noexcept nogil:
    # Deterministic priorities: tree shape is a pure function of the operation sequence.
    cdef u32 x = <u32>idx * 2654435761u + 0x9E3779B9u
    x ^= x >> 16
    x *= 0x85EBCA6Bu
    x ^= x >> 13
    x *= 0xC2B2AE35u
    x ^= x >> 16
    return x

cdef inline u64 vruntime_min(u64 a, u64 b) noexcept nogil:
    # the earlier of two vruntimes (wrap-safe), a select rather than a branch
    return b if before(b, a) else a

cdef inline void aug_update(FairArena* a, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef sched_entity* c
    cdef u64 mv = se.vruntime
    cdef u64 ms = se.slice
    if se.left >= 0:
        c = &a.se[se.left]
        if before(c.min_vruntime, mv):
            mv = c.min_vruntime
        if c.min_slice < ms:
            ms = c.min_slice
    if se.right >= 0:
        c = &a.se[se.right]
        if before(c.min_vruntime, mv):
            mv = c.min_vruntime
        if c.min_slice < ms:
            ms = c.min_slice
    se.min_vruntime = mv
    se.min_slice = ms

cdef inline void aug_propagate(FairArena* a, s32 n) noexcept nogil:
    while n >= 0:
        aug_update(a, n)
        n = a.se[n].tparent

cdef inline void tree_replace_child(FairArena* a, cfs_rq_t* cfs, s32 p, s32 old, s32 new) noexcept nogil:
    if p < 0:
        cfs.root = new
    elif a.se[p].left == old:
        a.se[p].left = new
    else:
        a.se[p].right = new
    if new >= 0:
        a.se[new].tparent = p

cdef inline void rotate_up(FairArena* a, cfs_rq_t* cfs, s32 x) noexcept nogil:
    # Lift x above its parent p.
    cdef s32 p = a.se[x].tparent
    cdef s32 g = a.se[p].tparent
    cdef s32 b
    if a.se[p].left == x:
        b = a.se[x].right
        a.se[p].left = b
        if b >= 0:
            a.se[b].tparent = p
        a.se[x].right = p
    else:
        b = a.se[x].left
        a.se[p].right = b
        if b >= 0:
            a.se[b].tparent = p
        a.se[x].left = p
    a.se[p].tparent = x
    tree_replace_child(a, cfs, g, p, x)

cdef inline void tree_insert(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    # Down the search path each ancestor's augment takes in n (an insert only lowers minima);
    # each rotation that lifts n above its parent hands n the parent's augment (the same
    # subtree) and recomputes only the parent's.
    cdef sched_entity* se = &a.se[n]
    cdef sched_entity* ps
    cdef s32 p = cfs.root
    cdef s32 par
    cdef u64 v = se.vruntime
    cdef u64 sl = se.slice
    se.left = -1
    se.right = -1
    se.min_vruntime = v
    se.min_slice = sl
    if p < 0:
        cfs.root = n
        se.tparent = -1
        return
    while True:
        ps = &a.se[p]
        ps.min_vruntime = vruntime_min(ps.min_vruntime, v)
        ps.min_slice = sl if sl < ps.min_slice else ps.min_slice
        if before(se.deadline, ps.deadline):
            if ps.left < 0:
                ps.left = n
                break
            p = ps.left
        else:
            if ps.right < 0:
                ps.right = n
                break
            p = ps.right
    se.tparent = p
    while se.tparent >= 0 and a.se[se.tparent].prio < se.prio:
        par = se.tparent
        se.min_vruntime = a.se[par].min_vruntime
        se.min_slice = a.se[par].min_slice
        rotate_up(a, cfs, n)
        aug_update(a, par)

cdef inline s32 subtree_first(FairArena* a, s32 n) noexcept nogil:
    while a.se[n].left >= 0:
        n = a.se[n].left
    return n

cdef inline void tree_erase(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef s32 child, p
    while se.left >= 0 and se.right >= 0:
        if a.se[se.left].prio > a.se[se.right].prio:
            rotate_up(a, cfs, se.left)
        else:
            rotate_up(a, cfs, se.right)
    child = se.left if se.left >= 0 else se.right
    p = se.tparent
    tree_replace_child(a, cfs, p, n, child)
    se.left = -1
    se.right = -1
    se.tparent = -1
    aug_propagate(a, p)

cdef inline s32 tree_leftmost(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    return subtree_first(a, cfs.root) if cfs.root >= 0 else -1

cdef inline s32 tree_next(FairArena* a, s32 n) noexcept nogil:
    # In-order successor in the tree.
    cdef s32 p
    if a.se[n].right >= 0:
        return subtree_first(a, a.se[n].right)
    p = a.se[n].tparent
    while p >= 0 and a.se[p].right == n:
        n = p
        p = a.se[p].tparent
    return p
