"""Pure-numpy kernels: one block of integrations in, arrays out.

Nothing in this sub-package imports xarray or dask, reads files or plots.
Every kernel takes arrays whose leading axis is ``integration`` (a block of
any length, including 0 and 1) followed by ``row`` (dispersion axis) and
``col`` (cross-dispersion axis), and works on all integrations, windows and
columns of the block at once: there are no per-pixel Python loops.

Kernel contract (the xarray layer in :mod:`xmiri.steps` relies on it)::

    clean.clean_block(data, dq, *, window_heights, dq_mask, poly_order,
                      outlier_threshold, profile_left, profile_right, robust)
        -> cleaned (n, r, c) float64, replaced (n, r, c) bool, profile (n, r, c) float64
    clean.count_replaced_near_trace(replaced, center, max_width=4)
        -> (n, r, max_width + 1) int64
    background.background_block(data, *, method, left, right, smoothing_length)
        -> background (n, r, c) float64
    trace.fit_trace_block(data, *, rows, cols, sigma_guess)
        -> center (n,) float64, sigma (n,) float64
    extract.aperture_mask(center, n_cols, left_width, right_width) -> (n, c) bool
    extract.box_extract_block(data, err, mask) -> flux (n, r), flux_error (n, r)
    extract.optimal_extract_block(data, profile, variance0, mask, *, median_profile=None)
        -> flux (n, r), flux_error (n, r)
    align.cross_dispersion_profile(data, *, rows, cols) -> (n, len(cols)) float64
    align.measure_shifts(signals, template, *, ...) -> shifts (n,) float64 (NaN if unmeasurable)
    align.resample(values, errors, shifts) -> values (n, m), errors (n, m)
"""
