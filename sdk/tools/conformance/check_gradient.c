/* Checks "gradient", "gradient_resampled" and "gradient_reach": the tape's
 * gradient of L = sum_b w_b log p-hat_b (through the SMC engine: IWAE, or
 * FIVO resampling at every step; fixed random w_b in (-1, 1), L formed in
 * double) w.r.t. registered parameter values against central finite
 * differences (the one such check: tests/seqmodel_suite.h runs it on vrnn
 * and srnn); and every registered parameter receiving some gradient.
 * Resampled ancestors are piecewise constant in the parameters and carry no
 * gradient (as in the reference): the fixed seed gives a point where no
 * ancestor changes within h. */
#include "kit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RNG_MOVE = FIVO_RNG_USER + 101, RNG_LOSS = FIVO_RNG_USER + 102, RNG_PICK = FIVO_RNG_USER + 103 };

typedef struct point {
    kit_model m;
    fivo_ctx *ctx;
    double *w; /* [B] loss weights */
    /* The bound: IWAE, or FIVO resampling at every step. */
    int particles;
    fivo_criterion crit;
    const fivo_resampler *resampler;
} point;

/* Zero biases and zero initial states put relu inputs exactly on their kink
 * at t = 0: move every parameter value by U(-0.2, 0.2) to a generic point. */
static bool point_open(kit *k, point *p)
{
    memset(p, 0, sizeof *p);
    p->particles = k->o->particles;
    p->crit = FIVO_RESAMPLE_NEVER;
    if (!kit_model_open_default(k, &p->m))
        return false;
    p->ctx = fivo_ctx_new(1 << 20, 0);
    p->w = calloc((size_t)k->B, sizeof(double));
    float *u = calloc((size_t)k->B, sizeof(float));
    if (p->ctx == NULL || p->w == NULL || u == NULL) {
        free(u);
        return false;
    }
    for (int i = 0; i < fivo_params_count(p->m.params); i++) {
        fivo_tensor *t = fivo_params_at(p->m.params, i, NULL);
        fivo_rng r = fivo_rng_make(k->o->seed, RNG_MOVE, (uint64_t)i);
        for (int row = 0; row < t->rows; row++) {
            float *x = fivo_tensor_row(t, row), *d = malloc(sizeof(float) * (size_t)t->cols);
            if (d == NULL)
                break;
            fivo_rng_uniform(&r, (uint32_t)row, d, t->cols);
            for (int c = 0; c < t->cols; c++)
                x[c] += 0.4f * d[c] - 0.2f;
            free(d);
        }
    }
    fivo_rng r = fivo_rng_make(k->o->seed, RNG_LOSS, 0);
    fivo_rng_uniform(&r, 0, u, k->B);
    for (int b = 0; b < k->B; b++)
        p->w[b] = 2.0 * u[b] - 1.0;
    free(u);
    return true;
}

static void point_close(point *p)
{
    free(p->w);
    fivo_ctx_free(p->ctx);
    kit_model_close(&p->m);
}

/* L at the current parameter values (no tape). */
static fivo_status loss(kit *k, point *p, double *out, fivo_error *err)
{
    fivo_smc_result res;
    fivo_status st = kit_smc(p->ctx, &p->m.model, &k->batch, p->particles, p->crit, p->resampler,
                             k->o->seed, 0, false, &res, err);
    if (st != FIVO_OK)
        return st;
    double s = 0.0;
    for (int b = 0; b < k->B; b++)
        s += (double)res.log_phat->data[b] * p->w[b];
    *out = s;
    return FIVO_OK;
}

/* dL/d(every parameter value) from the tape into each parameter's grad. */
static fivo_status backward(kit *k, point *p, fivo_error *err)
{
    fivo_smc_result res;
    fivo_params_zero_grad(p->m.params);
    fivo_status st = kit_smc(p->ctx, &p->m.model, &k->batch, p->particles, p->crit, p->resampler,
                             k->o->seed, 0, true, &res, err);
    if (st != FIVO_OK)
        return st;
    float *wf = fivo_ctx_alloc(p->ctx, sizeof(float) * (size_t)k->B);
    if (wf == NULL)
        return fivo_error_set(err, FIVO_ERR_NOMEM, "arena exhausted");
    for (int b = 0; b < k->B; b++)
        wf[b] = (float)p->w[b];
    fivo_tensor *wt = fivo_tensor_from(p->ctx, k->B, 1, wf);
    fivo_tensor *l = fivo_sum_all(p->ctx, fivo_mul(p->ctx, res.log_phat, wt));
    if ((st = fivo_ctx_status(p->ctx, err)) != FIVO_OK)
        return st;
    return fivo_ctx_backward(p->ctx, l, err);
}

/* Central difference of L in entry x at step h. */
static fivo_status numeric(kit *k, point *p, float *x, double h, double *out, fivo_error *err)
{
    const float old = *x;
    double lp = 0, lm = 0;
    *x = old + (float)h;
    fivo_status st = loss(k, p, &lp, err);
    *x = old - (float)h;
    if (st == FIVO_OK)
        st = loss(k, p, &lm, err);
    *x = old;
    *out = (lp - lm) / ((double)(old + (float)h) - (double)(old - (float)h));
    return st;
}

/* At step h: the central, forward and backward differences. */
static fivo_status retry(kit *k, point *p, float *x, double h, double out[3], fivo_error *err)
{
    const float old = *x;
    double l0 = 0, lp = 0, lm = 0;
    fivo_status st = loss(k, p, &l0, err);
    *x = old + (float)h;
    if (st == FIVO_OK)
        st = loss(k, p, &lp, err);
    const double up = (double)*x - (double)old;
    *x = old - (float)h;
    if (st == FIVO_OK)
        st = loss(k, p, &lm, err);
    const double down = (double)old - (double)*x;
    *x = old;
    out[0] = (lp - lm) / (up + down);
    out[1] = (lp - l0) / up;
    out[2] = (l0 - lm) / down;
    return st;
}

static double rel_err(double a, double n, double floor)
{
    double e = fabs(a - n) / fmax(floor, fmax(fabs(a), fabs(n)));
    return isnan(e) ? INFINITY : e;
}

/* Which entries of an n-value tensor to check: all, or `want` distinct ones
 * drawn from the kit's seed (a partial Fisher-Yates shuffle). */
static size_t pick(kit *k, int tensor, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    size_t want = k->o->grad_samples;
    if (want == 0 || want >= n)
        return n;
    fivo_rng r = fivo_rng_make(k->o->seed, RNG_PICK, (uint64_t)tensor);
    for (size_t i = 0; i < want; i++) {
        size_t j = i + (size_t)(fivo_rng_u64(&r, 0, i) % (n - i));
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    return want;
}

static kit_verdict gradient_at(kit *k, point *pp);

kit_verdict kit_check_gradient(kit *k)
{
    point p;
    if (!point_open(k, &p)) {
        point_close(&p);
        return kit_say(k, KIT_FAIL, "cannot create the model");
    }
    return gradient_at(k, &p);
}

kit_verdict kit_check_gradient_resampled(kit *k)
{
    if (!k->have_resampler)
        return kit_say(k, KIT_SKIP, "no resampler: %s", k->resampler_why);
    point p;
    if (!point_open(k, &p)) {
        point_close(&p);
        return kit_say(k, KIT_FAIL, "cannot create the model");
    }
    p.particles = k->o->resampled_particles;
    p.crit = FIVO_RESAMPLE_ALWAYS;
    p.resampler = &k->resampler;
    kit_note(k, "FIVO, resampling at every step with '%s', %d particles", k->resampler.name,
             p.particles);
    return gradient_at(k, &p);
}

/* The finite-difference comparison at p (closed on return). */
static kit_verdict gradient_at(kit *k, point *pp)
{
    point p = *pp;
    fivo_error err = {0};
    const int count = fivo_params_count(p.m.params);
    if (count == 0) {
        point_close(&p);
        return kit_say(k, KIT_SKIP, "the model registers no parameters");
    }
    const double h = k->o->grad_h, floor = k->o->grad_floor, tol = k->o->grad_tol;
    double worst = 0.0;
    char where[512] = "";
    int checked = 0, retried = 0, one_sided = 0, over = 0;
    if (backward(k, &p, &err) != FIVO_OK) {
        kit_note(k, "the backward pass failed: %s", err.message);
        point_close(&p);
        return kit_say(k, KIT_FAIL, "no gradient");
    }
    /* The tape's values, before the finite differences touch the grads. */
    const size_t total = fivo_params_num_values(p.m.params);
    float *tape = malloc(sizeof(float) * (total ? total : 1));
    size_t *idx = malloc(sizeof(size_t) * (total ? total : 1));
    if (tape == NULL || idx == NULL) {
        free(tape);
        free(idx);
        point_close(&p);
        return kit_say(k, KIT_FAIL, "out of memory");
    }
    fivo_status st = FIVO_OK;
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        fivo_tensor *t = fivo_params_at(p.m.params, i, NULL);
        memcpy(tape + at, t->grad, sizeof(float) * fivo_tensor_size(t));
        at += fivo_tensor_size(t);
    }
    at = 0;
    for (int i = 0; i < count && st == FIVO_OK; i++) {
        const char *name = NULL;
        fivo_tensor *t = fivo_params_at(p.m.params, i, &name);
        const size_t n = fivo_tensor_size(t), m = pick(k, i, n, idx);
        double tensor_worst = 0.0;
        for (size_t s = 0; s < m && st == FIVO_OK; s++) {
            const size_t e = idx[s];
            const double a = tape[at + e];
            double num = 0.0;
            st = numeric(k, &p, &t->data[e], h, &num, &err);
            double err_e = rel_err(a, num, floor);
            if (st == FIVO_OK && err_e > tol) {
                /* A relu/max kink within h of the point: retry at h/4,
                 * centrally and one-sided (the tape gives one side's slope). */
                double alt[3];
                st = retry(k, &p, &t->data[e], h / 4, alt, &err);
                retried++;
                for (int r = 0; r < 3 && st == FIVO_OK; r++) {
                    double er = rel_err(a, alt[r], floor);
                    if (er < err_e) {
                        err_e = er;
                        num = alt[r];
                        one_sided += r > 0 && er <= tol;
                    }
                }
            }
            checked++;
            over += err_e > tol;
            if (err_e > tensor_worst)
                tensor_worst = err_e;
            if (err_e > worst || (worst == 0.0 && where[0] == '\0')) {
                worst = err_e;
                snprintf(where, sizeof where, "%s[%zu]: tape %.6g, numeric %.6g", name, e, a, num);
            }
        }
        if (k->o->verbose || tensor_worst > tol)
            kit_note(k, "%-40s %zu of %zu entries, max error %.3g", name, m, n, tensor_worst);
        at += n;
    }
    free(tape);
    free(idx);
    point_close(&p);
    if (st != FIVO_OK) {
        kit_note(k, "an SMC pass failed: %s", err.message);
        return kit_say(k, KIT_FAIL, "finite differences could not be computed");
    }
    if (over > 0)
        return kit_say(k, KIT_FAIL,
                       "%d of %d entries over tolerance %g; max error %.3g at %s (h %g, floor %g)",
                       over, checked, tol, worst, where, h, floor);
    return kit_say(k, KIT_PASS,
                   "%d entries of %d tensors, max error %.3g (tolerance %g, h %g, floor %g; %d "
                   "retried at h/4, %d passing one-sided only); worst %s",
                   checked, count, worst, tol, h, floor, retried, one_sided, where);
}

kit_verdict kit_check_gradient_reach(kit *k)
{
    point p;
    fivo_error err = {0};
    if (!point_open(k, &p)) {
        point_close(&p);
        return kit_say(k, KIT_FAIL, "cannot create the model");
    }
    const int count = fivo_params_count(p.m.params);
    if (count == 0) {
        point_close(&p);
        return kit_say(k, KIT_SKIP, "the model registers no parameters");
    }
    int unreached = 0, nonfinite = 0;
    if (backward(k, &p, &err) != FIVO_OK) {
        kit_note(k, "the backward pass failed: %s", err.message);
        point_close(&p);
        return kit_say(k, KIT_FAIL, "no gradient");
    }
    for (int i = 0; i < count; i++) {
        const char *name = NULL;
        const fivo_tensor *t = fivo_params_at(p.m.params, i, &name);
        bool any = false;
        for (size_t e = 0; e < fivo_tensor_size(t); e++)
            any = any || t->grad[e] != 0.0f;
        if (!kit_all_finite(t->grad, fivo_tensor_size(t))) {
            kit_note(k, "%s: non-finite gradient", name);
            nonfinite++;
        } else if (!any) {
            kit_note(k, "%s: zero gradient (not used by the bound, or detached from the tape)",
                     name);
            unreached++;
        }
    }
    point_close(&p);
    if (unreached + nonfinite > 0)
        return kit_say(k, KIT_FAIL, "%d of %d parameter tensors get no gradient, %d a non-finite one",
                       unreached, count, nonfinite);
    return kit_say(k, KIT_PASS, "all %d parameter tensors get a finite, non-zero gradient", count);
}
