"""Pure-numpy kernels: one block of integrations in, arrays out.

Nothing in this sub-package imports xarray or dask, reads files or plots.
Every kernel takes arrays whose leading axis is ``integration`` (a block of
any length, including 0 and 1) followed by ``row`` (dispersion axis) and
``col`` (cross-dispersion axis), and works on all integrations, windows and
columns of the block at once: there are no per-pixel Python loops.  Kernels
raise :class:`xmiri.ParameterError` on bad arguments, never warn (the step
layer counts what could not be measured), and use no thread-unsafe warning
filters, so that they run safely in dask worker threads.  Every piece of
numerics of xmiri lives in exactly one kernel here; the step layer
(:mod:`xmiri.steps`) only maps them over chunks.

Kernel contract (the step layer relies on it)::

    clean.clean_block(data, dq, *, window_heights, dq_mask, poly_order,
                      outlier_threshold, profile_left, profile_right, robust, unfitted)
        -> cleaned (n, r, c) float64, replaced (n, r, c) bool, profile (n, r, c) float64
    clean.count_replaced_near_trace(replaced, center, max_width) -> (n, r, max_width + 1) int64
    background.background_block(data, *, method, left, right, smoothing_length)
        -> background (n, r, c) float64
    background.subtract_block(data, *, method, left, right, smoothing_length)
        -> data less background (n, r, c) in data's dtype, background (n, r, c) float32
    background.nanmedian(values, axis) -> NaN-aware median without warnings
    skyerror.background_error_block(data, variance, *, method, left, right, smoothing_length)
        -> (n, r, k) standard error of each sky estimate;  skyerror.difference_variance(data) -> (n,)
    trace.fit_trace_block(data, *, rows, cols, sigma_guess)
        -> center (n,) float64, sigma (n,) float64
    aperture.aperture_edges(center (n, r), left_width, right_width, whole_pixels) -> lower, upper
    aperture.edge_weights(lower, upper, n_cols) -> (n, r, c) weights in [0, 1]
    aperture.band_weights(lower, upper, n_cols) -> (n, r, band) weights, columns (the band's slice)
    aperture.aperture_weights(center, n_cols, left, right) / aperture_mask(...)  (the two cases)
    aperture.aperture_cutout(values, mask (n, c)) -> (n, r, w);  expand_cutout(cutout (r, w), mask)
    extract.box_extract(data, err, weights, profile, usable, replaced, *, min_valid_weight)
    extract.optimal_extract(data, profile, variance0, weights, usable, replaced, *, q, sky,
                            min_valid_weight)
        -> Extraction(flux (n, r), flux_error (n, r), missing_fraction (n, r),
                      linear_weights (n, r, c))   (the one box and the one optimal kernel)
    extract.trace_frame_scale(template (r, c), profile, weights) -> (n, r) sum(w T) / sum(w P)
    extract.zero_profile_rows(weights, profile) -> (n, r) bool sum(w P) == 0
    profile.neighbour_profile(data, valid, weights, rows, fallback, *, half_height) -> (n, r, c)
    profile.fill_profile(profile, fallback) -> profile;  profile.profile_from_frame(frame (r, c)) -> (r, c)
    profile.complete_profile(profile, data, valid, weights, fallback, *, half_height) -> (n, r, c)
    profile.fill_profile_columns(profile, fallback, columns) -> (n, r, band)
    profile.complete_profile_columns(..., *, half_height, columns, n_cols) -> (n, r, band)
        (the two on the aperture's band of columns, bit for bit the whole frame's values there)
    profile.normalised_profiles(values) -> rows / nansum(rows);  align_profiles(profiles, shift) -> (n, r, c)
    profile.move_template(template (r, c), shift (n,)) -> (n, r, c);  fit_profile_shift(...) -> (n,)
    extract.wavelength_column(wavelength (r, c), centers (n,)) -> (r,)
    align.cross_dispersion_profile(data, *, rows, cols) -> (n, len(cols)) float64
    align.measure_shifts(signals, template, *, max_shift, ...) -> shifts (n,) (NaN if unmeasurable)
    align.resample(values, errors, shifts) -> values (n, m), errors (n, m)
    align.shift_margin(max_shift) -> samples the lag search leaves out at each end
    lightcurves.bin_index(wavelength, edges) -> (r,) int;  bin_counts(index, n_bins) -> (b,)
    lightcurves.bin_spectra(flux, flux_error, index, n_bins) -> (n, b), (n, b)
    lightcurves.bin_flux_sums(flux, index, n_bins) -> (n, b)   (row by row, chunking-independent)
    lightcurves.running_median_clip(values, window, threshold) -> (n,) bool
    noise.estimate_q(rate, var_poisson, var_rnoise, bad) -> Q (float)
    noise.expected_error(rate, q, var_rnoise) -> (n, r, c);  outlying_errors(...) -> (n, r, c) bool
    temporal.temporal_outliers(data, valid, err, *, window_width, scale, halo, ...)
        -> median, flagged (n - sum(halo), r, c) [, scatter]
    temporal.replace_outliers(data, median, flagged, replace) -> (n, r, c)
    tracefit.integration_offsets(data, reference, row_weights, *, cols, ...) -> offsets (n,)
    tracefit.evaluate_trace(coefficients, rows, offsets) -> centre (n, r)
    aperture.gaussian_profile(center (n, r), sigma, n_cols) -> (n, r, c)
    noise.sky_flux_variance(weights (n, r, c), coefficients (k, c), sky_error (n, r, k),
                            columns=None) -> (n, r)

Exposure-wide reductions: kernels that need every integration at once, applied
by the step layer to the whole exposure's small per-integration products::

    align.median_template(signals (N, m)) -> template (m,)
    profile.median_profile_from_cutouts(cutouts (N, r, w)) -> (r, w)
    background.nanmedian(values (N, ...), axis=0)
    tracefit.fit_reference_trace(median frame (r, c), *, order, ...) -> ReferenceTrace
    trace.locate_trace(median frame (r, c), *, bright_fraction) -> (column, (start, stop)) or None
"""
