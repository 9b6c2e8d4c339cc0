/* The resampling criterion of a bound's [bound] section (see fivo/smc.h):
 * read once here for every bound that resamples. */
#include <fivo/options.h>
#include <fivo/smc.h>

fivo_status fivo_smc_criterion_read(const fivo_config *cfg, const fivo_option *rows, size_t n,
                                    fivo_criterion *criterion, double *ess_threshold,
                                    fivo_error *err)
{
    const char *crit = NULL; /* defaults: the rows (also with no config) */
    double thr = 0; /* range [0, 1]: the row's, checked by fivo_option_double */
    fivo_status st = fivo_option_string(cfg, "bound", rows, n, "resampling_criterion", &crit, err);
    if (st == FIVO_OK)
        st = fivo_option_double(cfg, "bound", rows, n, "ess_threshold", &thr, err);
    if (st != FIVO_OK)
        return st;
    if (fivo_criterion_parse(crit, criterion, err) != FIVO_OK)
        return fivo_error_prefix(err, "[bound] resampling_criterion: ");
    *ess_threshold = thr;
    return FIVO_OK;
}
