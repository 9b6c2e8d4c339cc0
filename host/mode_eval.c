/* --mode=eval: one pass of the configured bound over [dataset] split (in
 * order, no gradients), reported as the reference's ghmm eval does: the
 * bound per timestep (mean and std over sequences), the exact likelihood
 * per timestep when the model has one, the average log-weight variance and
 * the average resampling rate. */
#include <stdio.h>

#include "session.h"

int fivo_host_run_eval(fivo_host *h)
{
    const char *split = "train";
    fivo_config_get_string(h->cfg, "dataset", "split", "train", &split, NULL);
    fivo_session s;
    int rc = fivo_session_open(&s, h, split);
    if (rc != 0)
        return rc;
    fivo_report *r = fivo_report_new("eval");
    fivo_report_set_int(r, "step", 0);
    fivo_report_set_string(r, "split", split);
    fivo_error err = {0};
    if (fivo_session_evaluate(&s, &s.dataset, r, &err) != FIVO_OK) {
        fprintf(stderr, "fivo: error: %s\n", err.message);
        rc = 1;
    } else {
        rc = fivo_host_emit(h, r);
    }
    fivo_report_free(r);
    fivo_session_close(&s);
    return rc;
}
