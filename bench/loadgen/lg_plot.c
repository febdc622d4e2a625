/* lg_plot.c: the SVG of a loadgen run (see lg_plot.h): two panels of 440 x 300 plot units,
 * linear rate axes from 0 and a log latency axis over the decades the points cover, each
 * series one polyline. Written with stdio into the file; text is only numbers and the title,
 * which is escaped. */
#include "bench/loadgen/lg_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PW 440.0 /* plot width and height of a panel */
#define PH 300.0
#define LEFT 70.0
#define TOP 50.0
#define GAP 520.0 /* the second panel's offset */

struct axes {
    double xmax, ymax, lmin, lmax; /* rates; log10 of the latency range in ms */
};

static double nice_max(double v)
{
    if (v <= 0)
        return 1;
    double p = pow(10, floor(log10(v)));
    return v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

static struct axes axes_of(const struct uf_lg_point *pt, size_t n)
{
    struct axes a = { 0, 0, 1e9, -1e9 };
    for (size_t i = 0; i < n; i++) {
        a.xmax = fmax(a.xmax, pt[i].offered);
        a.ymax = fmax(a.ymax, fmax(pt[i].achieved, pt[i].offered));
        double lat[] = { pt[i].p50_ms, pt[i].p99_ms, pt[i].p999_ms };
        for (int k = 0; k < 3; k++)
            if (lat[k] > 0) {
                a.lmin = fmin(a.lmin, floor(log10(lat[k])));
                a.lmax = fmax(a.lmax, ceil(log10(lat[k])));
            }
    }
    a.xmax = nice_max(a.xmax);
    a.ymax = nice_max(a.ymax);
    if (a.lmin > a.lmax)
        a.lmin = -1, a.lmax = 3;
    if (a.lmax <= a.lmin)
        a.lmax = a.lmin + 1;
    return a;
}

static double px(const struct axes *a, double x, double off)
{
    return off + LEFT + x / a->xmax * PW;
}

static double py_rate(const struct axes *a, double y)
{
    return TOP + PH - y / a->ymax * PH;
}

static double py_lat(const struct axes *a, double ms)
{
    double l = ms > 0 ? log10(ms) : a->lmin;
    l = fmax(a->lmin, fmin(a->lmax, l));
    return TOP + PH - (l - a->lmin) / (a->lmax - a->lmin) * PH;
}

/* The frame of a panel with its x ticks (rates) and labels. */
static void frame(FILE *f, const struct axes *a, double off, const char *ylabel)
{
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.0f' height='%.0f' fill='none' stroke='#444'/>\n",
            off + LEFT, TOP, PW, PH);
    for (int i = 0; i <= 5; i++) {
        double v = a->xmax * i / 5, x = px(a, v, off);
        fprintf(f,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>"
                "<text x='%.1f' y='%.1f' text-anchor='middle'>%.0f</text>\n",
                x, TOP, x, TOP + PH, x, TOP + PH + 16, v);
    }
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle'>offered requests/s</text>\n",
            off + LEFT + PW / 2, TOP + PH + 36);
    fprintf(f,
            "<text x='%.1f' y='%.1f' text-anchor='middle' transform='rotate(-90 %.1f %.1f)'>"
            "%s</text>\n",
            off + 18, TOP + PH / 2, off + 18, TOP + PH / 2, ylabel);
}

static void rate_panel(FILE *f, const struct axes *a, const struct uf_lg_point *pt, size_t n)
{
    frame(f, a, 0, "achieved requests/s");
    for (int i = 0; i <= 5; i++) {
        double v = a->ymax * i / 5;
        fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end'>%.0f</text>\n", LEFT - 6,
                py_rate(a, v) + 4, v);
    }
    double lim = fmin(a->xmax, a->ymax);
    fprintf(f,
            "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#999' "
            "stroke-dasharray='4 4'/>\n<polyline fill='none' stroke='#1f77b4' "
            "stroke-width='2' points='",
            px(a, 0, 0), py_rate(a, 0), px(a, lim, 0), py_rate(a, lim));
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", px(a, pt[i].offered, 0), py_rate(a, pt[i].achieved));
    fputs("'/>\n", f);
}

static void latency_panel(FILE *f, const struct axes *a, const struct uf_lg_point *pt, size_t n)
{
    frame(f, a, GAP, "latency, ms (log)");
    for (double l = a->lmin; l <= a->lmax; l++)
        fprintf(f,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>"
                "<text x='%.1f' y='%.1f' text-anchor='end'>%g</text>\n",
                GAP + LEFT, py_lat(a, pow(10, l)), GAP + LEFT + PW, py_lat(a, pow(10, l)),
                GAP + LEFT - 6, py_lat(a, pow(10, l)) + 4, pow(10, l));
    static const char *const names[] = { "p50", "p99", "p99.9" }, *const colors[] = { "#2ca02c",
                                                                                      "#ff7f0e",
                                                                                      "#d62728" };
    for (int k = 0; k < 3; k++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colors[k]);
        for (size_t i = 0; i < n; i++) {
            double v = k == 0 ? pt[i].p50_ms : k == 1 ? pt[i].p99_ms : pt[i].p999_ms;
            fprintf(f, "%.1f,%.1f ", px(a, pt[i].offered, GAP), py_lat(a, v));
        }
        fprintf(f, "'/>\n<text x='%.1f' y='%.1f' fill='%s'>%s</text>\n", GAP + LEFT + 10 + 60 * k,
                TOP - 8, colors[k], names[k]);
    }
}

static void escaped(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '<' || *s == '>' || *s == '&' || *s == '\'')
            fprintf(f, "&#%d;", *s);
        else
            fputc(*s, f);
}

int uf_lg_plot_svg(const char *path, const char *title, const struct uf_lg_point *points, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    struct axes a = axes_of(points, n);
    fputs("<svg xmlns='http://www.w3.org/2000/svg' width='1040' height='400' "
          "font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
          "fill='white'/>\n<text x='70' y='22' font-size='14'>",
          f);
    escaped(f, title);
    fputs("</text>\n", f);
    rate_panel(f, &a, points, n);
    latency_panel(f, &a, points, n);
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}
