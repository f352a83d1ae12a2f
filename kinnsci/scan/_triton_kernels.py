"""The Triton kernels of :mod:`kinnsci.scan.triton_kernel` (imported on first use, so
that ``TRITON_INTERPRET`` is read when the first scan runs, not when kinnsci is imported)."""

import triton
import triton.language as tl


@triton.jit
def coefficients(dt, A, MODE: tl.constexpr, SERIES_BELOW: tl.constexpr, TERMS: tl.constexpr):
    """(a, g, da/ddt, da/dA, dg/ddt, dg/dA) of one position; dt (BD, 1), A (BD, BN). ZOH
    follows the specification of ``kinnsci.discretize.zoh``: below |z| = SERIES_BELOW,
    phi1 and phi1' from TERMS terms of their Taylor series, term by term."""
    z = dt * A
    if MODE == 0:  # ZOH: a = e^z, g = dt phi1(z), phi1(z) = (e^z - 1) / z
        a = tl.exp(z)
        small = tl.abs(z) < SERIES_BELOW
        z_safe = tl.where(small, 1.0, z)
        term = z * 0.0 + 1.0  # phi1: t_k = t_{k-1} z / (k + 1)
        series = term
        d_term = z * 0.0 + 0.5  # phi1': t_k = t_{k-1} z (k + 1) / (k (k + 2))
        d_series = d_term
        for k in tl.static_range(1, TERMS):
            term = term * z * (1.0 / (k + 1))
            series += term
            d_term = d_term * z * ((k + 1.0) / (k * (k + 2)))
            d_series += d_term
        phi1 = tl.where(small, series, (a - 1.0) / z_safe)
        dphi1 = tl.where(small, d_series, (a - phi1) / z_safe)
        g = dt * phi1
        return a, g, A * a, dt * a, a, dt * dt * dphi1
    elif MODE == 1:  # Euler
        one = tl.full(z.shape, 1.0, z.dtype)
        return 1.0 + z, dt * one, A, dt * one, one, 0.0 * z
    else:  # bilinear (Tustin)
        den = 1.0 - z / 2
        inv2 = 1.0 / (den * den)
        return (1.0 + z / 2) / den, dt / den, A * inv2, dt * inv2, inv2, dt * dt * inv2 / 2


@triton.jit
def block_constants(A_ptr, D_ptr, offs_d, offs_n, md, mn, N, STATE: tl.constexpr):
    """A (BLOCK_D, BLOCK_N) of this channel block (padding lanes -1) and the skip weights."""
    A = tl.load(A_ptr + offs_d[:, None] * N + offs_n[None, :],
                mask=md[:, None] & mn[None, :], other=-1.0).to(STATE)
    return A, tl.load(D_ptr + offs_d, mask=md, other=0.0).to(STATE)


@triton.jit
def step_inputs(x_ptr, dt_ptr, B_ptr, b, L, t, DIM, N, offs_d, offs_n, md, mn,
                REVERSE: tl.constexpr, STATE: tl.constexpr):
    """The row of step t (position L - 1 - t when scanning in reverse), its x and delta
    over the channel block and its B, in the state's precision."""
    pos = L - 1 - t if REVERSE else t
    row = b * L + pos
    x = tl.load(x_ptr + row * DIM + offs_d, mask=md, other=0.0).to(STATE)
    dt = tl.load(dt_ptr + row * DIM + offs_d, mask=md, other=0.0).to(STATE)
    Bt = tl.load(B_ptr + row * N + offs_n, mask=mn, other=0.0).to(STATE)
    return row, x, dt, Bt


@triton.jit
def forward_kernel(x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, y_ptr, ck_ptr,
                   L, DIM, N, n_chunks, chunk,
                   MODE: tl.constexpr, REVERSE: tl.constexpr, STATE: tl.constexpr,
                   SERIES_BELOW: tl.constexpr, TERMS: tl.constexpr,
                   BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, STAGES: tl.constexpr):
    b = tl.program_id(0)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md, mn = offs_d < DIM, offs_n < N
    mdn = md[:, None] & mn[None, :]
    A, skip = block_constants(A_ptr, D_ptr, offs_d, offs_n, md, mn, N, STATE)
    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=STATE)
    # the loads of a step do not depend on the state: STAGES > 1 lets the compiler issue
    # the next steps' loads while this one computes (software pipelining)
    for t in tl.range(0, L, num_stages=STAGES):
        if t % chunk == 0:
            ck = ck_ptr + ((b * n_chunks + t // chunk) * DIM + offs_d[:, None]) * N
            tl.store(ck + offs_n[None, :], h, mask=mdn)
        row, x, dt, Bt = step_inputs(x_ptr, dt_ptr, B_ptr, b, L, t, DIM, N, offs_d, offs_n,
                                     md, mn, REVERSE, STATE)
        Ct = tl.load(C_ptr + row * N + offs_n, mask=mn, other=0.0).to(STATE)
        a, g, _, _, _, _ = coefficients(dt[:, None], A, MODE, SERIES_BELOW, TERMS)
        h = a * h + g * Bt[None, :] * x[:, None]
        y = tl.sum(h * Ct[None, :], axis=1) + skip * x
        tl.store(y_ptr + row * DIM + offs_d, y.to(y_ptr.dtype.element_ty), mask=md)


@triton.jit
def backward_kernel(gy_ptr, x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, ck_ptr, ws_ptr,
                    gx_ptr, gdt_ptr, gA_ptr, gB_ptr, gC_ptr, gD_ptr,
                    L, DIM, N, n_chunks, chunk, n_blocks,
                    MODE: tl.constexpr, REVERSE: tl.constexpr, STATE: tl.constexpr,
                    SERIES_BELOW: tl.constexpr, TERMS: tl.constexpr,
                    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, STAGES: tl.constexpr):
    b = tl.program_id(0)
    blk = tl.program_id(1)
    offs_d = blk * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    md, mn = offs_d < DIM, offs_n < N
    mdn = md[:, None] & mn[None, :]
    tile = offs_d[:, None] * 0 + tl.arange(0, BLOCK_D)[:, None] * BLOCK_N + offs_n[None, :]
    A, skip = block_constants(A_ptr, D_ptr, offs_d, offs_n, md, mn, N, STATE)
    # this program's workspace: chunk + 1 states of (BLOCK_D, BLOCK_N), slot 0 the
    # checkpoint (h before the chunk), slot j + 1 the state after its j-th position
    ws = ws_ptr + (b * n_blocks + blk) * (chunk + 1) * BLOCK_D * BLOCK_N
    carry = tl.zeros((BLOCK_D, BLOCK_N), dtype=STATE)  # a_{t+1} lam_{t+1}
    grad_A = tl.zeros((BLOCK_D, BLOCK_N), dtype=STATE)
    grad_D = tl.zeros((BLOCK_D,), dtype=STATE)
    for cc in range(0, n_chunks):
        c = n_chunks - 1 - cc
        start = c * chunk
        length = tl.minimum(chunk, L - start)
        ck = ck_ptr + ((b * n_chunks + c) * DIM + offs_d[:, None]) * N + offs_n[None, :]
        h = tl.load(ck, mask=mdn, other=0.0).to(STATE)
        tl.store(ws + tile, h)
        for j in tl.range(0, length, num_stages=STAGES):
            _, x, dt, Bt = step_inputs(x_ptr, dt_ptr, B_ptr, b, L, start + j, DIM, N, offs_d,
                                       offs_n, md, mn, REVERSE, STATE)
            a, g, _, _, _, _ = coefficients(dt[:, None], A, MODE, SERIES_BELOW, TERMS)
            h = a * h + g * Bt[None, :] * x[:, None]
            tl.store(ws + (j + 1) * BLOCK_D * BLOCK_N + tile, h)
        # the workspace is written in the loop above and read in the one below, and the
        # compiler may spread a (BLOCK_D, BLOCK_N) tile over threads differently for the
        # stores and the loads: a barrier makes every store visible to every thread
        # before the first read, whatever the layouts (race-free by construction)
        tl.debug_barrier()
        for jj in tl.range(0, length, num_stages=STAGES):
            j = length - 1 - jj
            row, x, dt, Bt = step_inputs(x_ptr, dt_ptr, B_ptr, b, L, start + j, DIM, N,
                                         offs_d, offs_n, md, mn, REVERSE, STATE)
            gy = tl.load(gy_ptr + row * DIM + offs_d, mask=md, other=0.0).to(STATE)
            Ct = tl.load(C_ptr + row * N + offs_n, mask=mn, other=0.0).to(STATE)
            h_prev = tl.load(ws + j * BLOCK_D * BLOCK_N + tile)
            h_t = tl.load(ws + (j + 1) * BLOCK_D * BLOCK_N + tile)
            a, g, da_dt, da_dA, dg_dt, dg_dA = coefficients(dt[:, None], A, MODE,
                                                            SERIES_BELOW, TERMS)
            lam = gy[:, None] * Ct[None, :] + carry
            lam = tl.where(mdn, lam, 0.0)
            d_a = lam * h_prev
            d_g = lam * Bt[None, :] * x[:, None]
            gx = tl.sum(lam * g * Bt[None, :], axis=1) + skip * gy
            gdt = tl.sum(d_a * da_dt + d_g * dg_dt, axis=1)
            part = (row * n_blocks + blk) * N + offs_n
            tl.store(gC_ptr + part, tl.sum(gy[:, None] * h_t, axis=0), mask=mn)
            tl.store(gB_ptr + part, tl.sum(lam * g * x[:, None], axis=0), mask=mn)
            tl.store(gx_ptr + row * DIM + offs_d, gx.to(gx_ptr.dtype.element_ty), mask=md)
            tl.store(gdt_ptr + row * DIM + offs_d, gdt.to(gdt_ptr.dtype.element_ty),
                     mask=md)
            grad_A += d_a * da_dA + d_g * dg_dA
            grad_D += gy * x
            carry = a * lam
        tl.debug_barrier()  # every read of this chunk's states before the next one's stores
    gA = gA_ptr + (b * DIM + offs_d[:, None]) * N + offs_n[None, :]
    tl.store(gA, grad_A, mask=mdn)
    tl.store(gD_ptr + b * DIM + offs_d, grad_D, mask=md)
