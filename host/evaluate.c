/* The reports of an evaluation pass (the pass itself is libfivo's,
 * fivo/eval_loop.h). */
#include <math.h>

#include <fivo/internal/comm.h>
#include <fivo/progress.h>
#include "session.h"

fivo_eval_setup fivo_session_eval_setup(fivo_session *s)
{
    return (fivo_eval_setup){&s->model, &s->resampler, s->ctx, s->seed, s->batch_size,
                             s->num_samples};
}

fivo_status fivo_session_report_stats(fivo_session *s, const fivo_eval_stats *a, fivo_report *r,
                                      fivo_error *err)
{
    if (a->nseq == 0)
        return fivo_error_set(err, FIVO_ERR_INVALID, "eval: split '%s' has no sequences",
                              s->split);
    double mean = a->sum / (double)a->nseq;
    fivo_session_describe(s, r);
    const char *proposal = NULL;
    if (fivo_config_get_string(s->host->cfg, "model", "proposal_type", NULL, &proposal, NULL) ==
        FIVO_OK)
        fivo_report_set_string(r, "proposal_type", proposal);
    fivo_report_set_int(r, "num_samples", s->num_samples);
    fivo_report_set_int(r, "num_sequences", a->nseq);
    fivo_report_set_number(r, "bound_mean", mean);
    fivo_report_set_number(r, "bound_std",
                           sqrt(fmax(a->sumsq / (double)a->nseq - mean * mean, 0.0)));
    if (a->exact) {
        fivo_report_set_number(r, "true_ll_per_t", a->ll_sum / (double)a->nseq);
        fivo_report_set_number(r, "gap_per_t", a->gap_sum / (double)a->nseq);
    }
    fivo_report_set_number(r, "log_weight_var", fivo_eval_stats_log_weight_var(a));
    fivo_report_set_number(r, "resample_rate", fivo_eval_stats_resample_rate(a));
    return FIVO_OK;
}

fivo_status fivo_session_evaluate(fivo_session *s, fivo_dataset *ds, fivo_report *r,
                                  fivo_error *err)
{
    fivo_eval_stats a;
    fivo_eval_setup e = fivo_session_eval_setup(s);
    fivo_status st = fivo_eval_pass(&e, ds, &s->bound, &a, err);
    return st != FIVO_OK ? st : fivo_session_report_stats(s, &a, r, err);
}
