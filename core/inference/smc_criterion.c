/* The resampling criterion of a bound's [bound] section (see fivo/smc.h):
 * read once here for every bound that resamples. */
#include <fivo/options.h>
#include <fivo/smc.h>

fivo_status fivo_smc_criterion_read(const fivo_config *cfg, const fivo_option *rows, size_t n,
                                    fivo_criterion *criterion, double *ess_threshold,
                                    fivo_error *err)
{
    const char *crit = NULL; /* defaults: the rows (also with no config) */
    double thr = 0;
    fivo_status st = fivo_option_string(cfg, "bound", rows, n, "resampling_criterion", &crit, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "bound", rows, n, "ess_threshold", &thr, err);
    if (st != FIVO_OK)
        return st;
    if (fivo_criterion_parse(crit, criterion, err) != FIVO_OK)
        return fivo_error_prefix(err, "[bound] resampling_criterion: ");
    if (!(thr >= 0.0 && thr <= 1.0))
        return fivo_error_set(err, FIVO_ERR_INVALID,
                              "[bound] ess_threshold = %g: expected a number in [0, 1]", thr);
    *ess_threshold = thr;
    return FIVO_OK;
}
