/* fivo --mode=plot (or `fivo plot`): pictures of a log folder, drawn with
 * cairo.
 *   <logdir>/curves.png   every bound against step, one line per bound and
 *                         source (train, eval <split>), axes, ticks, labels
 *                         and a legend (from metrics.jsonl)
 *   <logdir>/samples.png  piano-roll images of samples.npz ([sample] out_dir
 *                         or logdir): one panel per prefix (rows) and sample
 *                         (columns), time to the right, pitch (dimension)
 *                         upwards, the prefix on a tinted background and a
 *                         red line at the first sampled frame.
 * Either picture is skipped (with a note) when its input is absent. Colours
 * are fixed so the pictures can be checked: curves take the palette below
 * in order of first appearance; notes are black, panel frames gray, the
 * boundary red (220, 20, 20); text is dark blue (20, 20, 140). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "modes.h"
#include "plot_data.h"

#ifndef FIVO_HAVE_CAIRO

int fivo_host_run_plot(fivo_host *h)
{
    (void)h;
    fprintf(stderr, "fivo: error: plot: this fivo was built without cairo (install "
                    "libcairo2-dev and rebuild); the plot mode is not available\n");
    return 1;
}

#else

#include <cairo.h>
#ifdef FIVO_HAVE_FONTCONFIG
#include <fontconfig/fontconfig.h>
#endif

/* cairo and fontconfig keep font caches for the process's life; drop them
 * when the pictures are done, so leak checkers (ASan, valgrind) see none. */
static void release_font_caches(void)
{
    cairo_debug_reset_static_data();
#ifdef FIVO_HAVE_FONTCONFIG
    FcFini();
#endif
}

static const double palette[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
static const double text_rgb[3] = {20, 20, 140};

static void set_rgb(cairo_t *cr, const double *rgb)
{
    cairo_set_source_rgb(cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
}

/* ---- curves.png ------------------------------------------------------------ */

typedef struct series {
    char *label;
    GArray *x, *y; /* double */
    bool markers;  /* eval points are few: mark each */
} series;

static series *series_for(GPtrArray *all, const char *label, bool markers)
{
    for (guint i = 0; i < all->len; i++) {
        series *s = g_ptr_array_index(all, i);
        if (strcmp(s->label, label) == 0)
            return s;
    }
    series *s = g_new0(series, 1);
    s->label = g_strdup(label);
    s->x = g_array_new(FALSE, FALSE, sizeof(double));
    s->y = g_array_new(FALSE, FALSE, sizeof(double));
    s->markers = markers;
    g_ptr_array_add(all, s);
    return s;
}

static void series_free(gpointer p)
{
    series *s = p;
    g_free(s->label);
    g_array_free(s->x, TRUE);
    g_array_free(s->y, TRUE);
    g_free(s);
}

static void add_point(GPtrArray *all, const char *label, bool markers, double x, double y)
{
    if (!isfinite(x) || !isfinite(y))
        return;
    series *s = series_for(all, label, markers);
    g_array_append_val(s->x, x);
    g_array_append_val(s->y, y);
}

/* Which values are bounds: the train window's bound and exact likelihood,
 * eval's bound_mean and every <bound>_ll_per_t, labelled by where they came from. */
static GPtrArray *collect(const fivo_plot_metrics *m)
{
    GPtrArray *all = g_ptr_array_new_with_free_func(series_free);
    for (int i = 0; i < m->count; i++) {
        const fivo_plot_line *l = &m->lines[i];
        const char *mode = fivo_plot_string(l, "mode");
        double step;
        if (mode == NULL || !fivo_plot_number(l, "step", &step))
            continue;
        const char *bound = fivo_plot_string(l, "bound");
        bound = bound != NULL ? bound : "bound";
        bool train = strcmp(mode, "train") == 0;
        if (!train && strcmp(mode, "eval") != 0)
            continue;
        const char *split = fivo_plot_string(l, "split");
        char *src = train ? g_strdup("train") : g_strdup_printf("eval %s", split ? split : "");
        for (int k = 0; k < l->count; k++) {
            const fivo_plot_field *f = &l->fields[k];
            if (f->string != NULL)
                continue;
            char *label = NULL;
            if (strcmp(f->name, "true_ll_per_t") == 0)
                label = g_strdup_printf("%s exact log p(x)", src);
            else if (strcmp(f->name, train ? "bound_per_t" : "bound_mean") == 0)
                label = g_strdup_printf("%s %s", src, bound);
            else if (!train && g_str_has_suffix(f->name, "_ll_per_t"))
                label = g_strdup_printf("%s %.*s", src, (int)(strlen(f->name) - 9), f->name);
            if (label != NULL)
                add_point(all, label, !train, step, f->number);
            g_free(label);
        }
        g_free(src);
    }
    return all;
}

/* About five round tick values covering [lo, hi]. */
static double tick_step(double lo, double hi)
{
    double raw = (hi - lo) / 5.0;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

enum { CW = 900, CH = 560, ML = 90, MR = 230, MT = 44, MB = 64 };

static int draw_curves(const char *out, const char *title, GPtrArray *all, fivo_error *err)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (guint i = 0; i < all->len; i++) {
        series *s = g_ptr_array_index(all, i);
        for (guint k = 0; k < s->x->len; k++) {
            x0 = fmin(x0, g_array_index(s->x, double, k));
            x1 = fmax(x1, g_array_index(s->x, double, k));
            y0 = fmin(y0, g_array_index(s->y, double, k));
            y1 = fmax(y1, g_array_index(s->y, double, k));
        }
    }
    if (x1 <= x0) {
        x0 -= 1;
        x1 += 1;
    }
    double xpad = 0.03 * (x1 - x0); /* markers at the ends stay whole */
    x0 -= xpad;
    x1 += xpad;
    double pad = y1 > y0 ? 0.05 * (y1 - y0) : fmax(fabs(y0) * 0.05, 0.5);
    y0 -= pad;
    y1 += pad;
    const double px0 = ML, px1 = CW - MR, py0 = MT, py1 = CH - MB;
#define SX(v) (px0 + ((v) - x0) / (x1 - x0) * (px1 - px0))
#define SY(v) (py1 - ((v) - y0) / (y1 - y0) * (py1 - py0))
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, CW, CH);
    cairo_t *cr = cairo_create(sf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    /* ticks, grid and their labels */
    char buf[64];
    cairo_text_extents_t te;
    double xs = tick_step(x0, x1), ys = tick_step(y0, y1);
    cairo_set_line_width(cr, 1);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, floor(SX(v)) + 0.5, py0);
        cairo_line_to(cr, floor(SX(v)) + 0.5, py1);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", v);
        cairo_text_extents(cr, buf, &te);
        set_rgb(cr, text_rgb);
        cairo_move_to(cr, SX(v) - te.width / 2, py1 + 18);
        cairo_show_text(cr, buf);
    }
    for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, px0, floor(SY(v)) + 0.5);
        cairo_line_to(cr, px1, floor(SY(v)) + 0.5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-12 * ys ? 0.0 : v);
        cairo_text_extents(cr, buf, &te);
        set_rgb(cr, text_rgb);
        cairo_move_to(cr, px0 - 8 - te.width, SY(v) + te.height / 2);
        cairo_show_text(cr, buf);
    }
    /* axes */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, px0 + 0.5, py0 + 0.5, px1 - px0, py1 - py0);
    cairo_stroke(cr);
    set_rgb(cr, text_rgb);
    cairo_text_extents(cr, "step", &te);
    cairo_move_to(cr, (px0 + px1) / 2 - te.width / 2, CH - 20);
    cairo_show_text(cr, "step");
    const char *ylabel = "bound per timestep (nats)";
    cairo_text_extents(cr, ylabel, &te);
    cairo_save(cr);
    cairo_move_to(cr, 24, (py0 + py1) / 2 + te.width / 2);
    cairo_rotate(cr, -G_PI / 2);
    cairo_show_text(cr, ylabel);
    cairo_restore(cr);
    cairo_set_font_size(cr, 14);
    cairo_move_to(cr, px0, 26);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 12);
    /* the curves, clipped to the plot area; then the legend beside it */
    cairo_save(cr);
    cairo_rectangle(cr, px0, py0, px1 - px0, py1 - py0);
    cairo_clip(cr);
    for (guint i = 0; i < all->len; i++) {
        series *s = g_ptr_array_index(all, i);
        set_rgb(cr, palette[i % 10]);
        cairo_set_line_width(cr, 2.5);
        for (guint k = 0; k < s->x->len; k++) {
            double X = SX(g_array_index(s->x, double, k)), Y = SY(g_array_index(s->y, double, k));
            if (k == 0)
                cairo_move_to(cr, X, Y);
            else
                cairo_line_to(cr, X, Y);
        }
        cairo_stroke(cr);
        if (s->markers || s->x->len == 1)
            for (guint k = 0; k < s->x->len; k++) {
                cairo_arc(cr, SX(g_array_index(s->x, double, k)),
                          SY(g_array_index(s->y, double, k)), 4, 0, 2 * G_PI);
                cairo_fill(cr);
            }
    }
    cairo_restore(cr);
    for (guint i = 0; i < all->len; i++) {
        series *s = g_ptr_array_index(all, i);
        double ly = py0 + 10 + 20 * i;
        set_rgb(cr, palette[i % 10]);
        cairo_rectangle(cr, px1 + 16, ly - 4, 22, 5);
        cairo_fill(cr);
        set_rgb(cr, text_rgb);
        cairo_move_to(cr, px1 + 46, ly + 4);
        cairo_show_text(cr, s->label);
    }
#undef SX
#undef SY
    cairo_destroy(cr);
    cairo_status_t cs = cairo_surface_write_to_png(sf, out);
    cairo_surface_destroy(sf);
    if (cs != CAIRO_STATUS_SUCCESS) {
        fivo_error_set(err, FIVO_ERR_IO, "%s: %s", out, cairo_status_to_string(cs));
        return 1;
    }
    return 0;
}

/* ---- samples.png ----------------------------------------------------------- */

enum { SMARGIN = 20, SGAP = 20, SLABEL = 18, STITLE = 30 };

static int draw_samples(const char *out, const fivo_plot_array *pre, const fivo_plot_array *smp,
                        fivo_error *err)
{
    if (pre->ndim != 3 || smp->ndim != 4 || pre->shape[1] != smp->shape[1] ||
        pre->shape[2] != smp->shape[3] || pre->shape[2] <= 0 || pre->shape[1] <= 0 ||
        smp->shape[2] <= 0) {
        fivo_error_set(err, FIVO_ERR_FORMAT, "samples.npz: expected prefixes [P, B, D] and "
                       "samples [L, B, N, D]");
        return 1;
    }
    int P = (int)pre->shape[0], B = (int)pre->shape[1], D = (int)pre->shape[2];
    int L = (int)smp->shape[0], N = (int)smp->shape[2], T = P + L;
    /* Binary data (piano rolls) as is; real data scaled to [0, 1] by its range. */
    double lo = 0, hi = 1;
    size_t np = (size_t)P * B * D, ns = (size_t)L * B * N * D;
    for (size_t i = 0; i < np + ns; i++) {
        double v = i < np ? pre->data[i] : smp->data[i - np];
        if (isfinite(v)) {
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    int cw = T > 0 ? 600 / T : 1, ch = 300 / D;
    cw = cw < 1 ? 1 : cw > 8 ? 8 : cw;
    ch = ch < 1 ? 1 : ch > 4 ? 4 : ch;
    int pw = T * cw, ph = D * ch;
    int W = 2 * SMARGIN + N * pw + (N - 1) * SGAP;
    int H = STITLE + B * (SLABEL + ph) + (B - 1) * SGAP + SMARGIN;
    if (W > 32000 || H > 32000) {
        fivo_error_set(err, FIVO_ERR_INVALID, "samples.png would be %dx%d pixels", W, H);
        return 1;
    }
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(sf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE); /* cells on whole pixels */
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    set_rgb(cr, text_rgb);
    cairo_set_font_size(cr, 13);
    char buf[128];
    snprintf(buf, sizeof buf, "%d prefixes x %d samples: %d prefix + %d sampled steps, %d dims",
             B, N, P, L, D);
    cairo_move_to(cr, SMARGIN, 20);
    cairo_show_text(cr, buf);
    cairo_set_font_size(cr, 11);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            int ox = SMARGIN + n * (pw + SGAP), oy = STITLE + b * (SLABEL + ph + SGAP) + SLABEL;
            set_rgb(cr, text_rgb);
            snprintf(buf, sizeof buf, "prefix %d, sample %d", b, n);
            cairo_move_to(cr, ox, oy - 5);
            cairo_show_text(cr, buf);
            for (int t = 0; t < T; t++)
                for (int k = 0; k < D; k++) {
                    double v = t < P ? pre->data[((size_t)t * B + b) * D + k]
                                     : smp->data[(((size_t)(t - P) * B + b) * N + n) * D + k];
                    v = isfinite(v) ? (v - lo) / (hi - lo) : 0.0;
                    /* background: prefix tinted, continuation white; ink: black */
                    double bg[3] = {t < P ? 0.87 : 1.0, t < P ? 0.90 : 1.0, t < P ? 0.96 : 1.0};
                    cairo_set_source_rgb(cr, bg[0] * (1 - v), bg[1] * (1 - v), bg[2] * (1 - v));
                    cairo_rectangle(cr, ox + t * cw, oy + (D - 1 - k) * ch, cw, ch);
                    cairo_fill(cr);
                }
            cairo_set_source_rgb(cr, 0.6, 0.6, 0.6); /* a frame: the continuation is white */
            cairo_set_line_width(cr, 1);
            cairo_rectangle(cr, ox - 0.5, oy - 0.5, pw + 1, ph + 1);
            cairo_stroke(cr);
            if (P > 0 && L > 0) {
                cairo_set_source_rgb(cr, 220 / 255.0, 20 / 255.0, 20 / 255.0);
                cairo_rectangle(cr, ox + P * cw, oy, 1, ph);
                cairo_fill(cr);
            }
        }
    cairo_destroy(cr);
    cairo_status_t cs = cairo_surface_write_to_png(sf, out);
    cairo_surface_destroy(sf);
    if (cs != CAIRO_STATUS_SUCCESS) {
        fivo_error_set(err, FIVO_ERR_IO, "%s: %s", out, cairo_status_to_string(cs));
        return 1;
    }
    printf("plot: %s (%dx%d, %d x %d panels of %d x %d cells of %dx%d pixels)\n", out, W, H, B,
           N, T, D, cw, ch);
    return 0;
}

int fivo_host_run_plot(fivo_host *h)
{
    fivo_error err = {0};
    int rc = 0, drawn = 0;
    fivo_plot_metrics m;
    if (fivo_plot_read_metrics(h->metrics_path, &m, &err) == FIVO_OK) {
        GPtrArray *all = collect(&m);
        char *out = g_build_filename(h->logdir, "curves.png", NULL);
        if (all->len == 0) {
            fprintf(stderr, "fivo: plot: %s has no train or eval bounds; no curves.png\n",
                    h->metrics_path);
        } else if (draw_curves(out, h->logdir, all, &err) != 0) {
            fprintf(stderr, "fivo: error: plot: %s\n", err.message);
            rc = 1;
        } else {
            printf("plot: %s (%dx%d, %u curves)\n", out, CW, CH, all->len);
            drawn++;
        }
        g_free(out);
        g_ptr_array_free(all, TRUE);
        fivo_plot_metrics_free(&m);
    } else if (err.code == FIVO_ERR_NOT_FOUND) {
        fprintf(stderr, "fivo: plot: no %s; no curves.png\n", h->metrics_path);
    } else {
        fprintf(stderr, "fivo: error: plot: %s\n", err.message);
        rc = 1;
    }

    const char *dir = h->set.sample_out_dir;
    char *npz = g_build_filename(dir != NULL ? dir : h->logdir, "samples.npz", NULL);
    fivo_plot_array pre = {0}, smp = {0};
    fivo_status st = fivo_plot_read_npz(npz, "prefixes", &pre, &err);
    if (st == FIVO_OK)
        st = fivo_plot_read_npz(npz, "samples", &smp, &err);
    if (st == FIVO_OK) {
        char *out = g_build_filename(h->logdir, "samples.png", NULL);
        if (draw_samples(out, &pre, &smp, &err) != 0) {
            fprintf(stderr, "fivo: error: plot: %s\n", err.message);
            rc = 1;
        } else {
            drawn++;
        }
        g_free(out);
    } else if (st == FIVO_ERR_NOT_FOUND && !g_file_test(npz, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "fivo: plot: no %s; no samples.png\n", npz);
    } else {
        fprintf(stderr, "fivo: error: plot: %s\n", err.message);
        rc = 1;
    }
    g_free(pre.data);
    g_free(smp.data);
    g_free(npz);
    if (rc == 0 && drawn == 0) {
        fprintf(stderr, "fivo: error: plot: nothing to draw in %s\n", h->logdir);
        rc = 1;
    }
    release_font_caches();
    return rc;
}

#endif
