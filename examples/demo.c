/*
 * demo.c -- what `make demo` runs: each example exporter answering every
 * standard request, then the sample buffer refusing and accepting a resize.
 */
#include <stdio.h>

#include "image.h"
#include "samples.h"

static const struct {
    const char *name;
    int flags;
} requests[] = {
    {"SIMPLE", XBUF_SIMPLE},
    {"WRITABLE", XBUF_WRITABLE},
    {"FORMAT", XBUF_FORMAT},
    {"ND", XBUF_ND},
    {"STRIDES", XBUF_STRIDES},
    {"C_CONTIGUOUS", XBUF_C_CONTIGUOUS},
    {"F_CONTIGUOUS", XBUF_F_CONTIGUOUS},
    {"ANY_CONTIGUOUS", XBUF_ANY_CONTIGUOUS},
    {"INDIRECT", XBUF_INDIRECT},
    {"CONTIG", XBUF_CONTIG},
    {"CONTIG_RO", XBUF_CONTIG_RO},
    {"STRIDED", XBUF_STRIDED},
    {"STRIDED_RO", XBUF_STRIDED_RO},
    {"RECORDS", XBUF_RECORDS},
    {"RECORDS_RO", XBUF_RECORDS_RO},
    {"FULL", XBUF_FULL},
    {"FULL_RO", XBUF_FULL_RO},
};

static void print_tuple(const ptrdiff_t *values, int n)
{
    if (values == NULL) {
        printf("%-16s", "-");
        return;
    }
    char text[64];
    int used = snprintf(text, sizeof text, "(");
    for (int i = 0; i < n && used < (int)sizeof text; i++)
        used += snprintf(text + used, sizeof text - (size_t)used, i ? ",%td" : "%td", values[i]);
    if (used < (int)sizeof text)
        snprintf(text + used, sizeof text - (size_t)used, n == 1 ? ",)" : ")");
    printf("%-16s", text);
}

static void print_row(xbuf_exporter *exporter, const char *name, int flags)
{
    xbuf_view view;
    xbuf_error err;
    printf("  %-15s ", name);
    if (xbuf_get(exporter, &view, flags, &err) < 0) {
        printf("refused: %s\n", err.message);
        return;
    }
    printf("ndim %d  %-4s ", view.ndim, view.format ? view.format : "-");
    print_tuple(view.shape, view.ndim);
    print_tuple(view.strides, view.ndim);
    print_tuple(view.suboffsets, view.ndim);
    printf("\n");
    xbuf_release(&view);
}

static void print_table(xbuf_exporter *exporter, const char *title)
{
    printf("%s\n  %-15s %-12s %-16s%-16s%s\n", title, "request", "ndim format", "shape",
           "strides", "suboffsets");
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        print_row(exporter, requests[i].name, requests[i].flags);
    printf("\n");
}

static int show_image(void)
{
    image *img;
    xbuf_error err;
    if (image_create(3, 4, 5, 0, &img, &err) < 0) {
        fprintf(stderr, "image_create: %s\n", err.message);
        return 1;
    }
    print_table(&img->exporter, "PIL-style planar image, 3 bands x 4 rows x 5 columns:");
    image_destroy(img, NULL);

    if (image_create(1, 1, 5, 1, &img, &err) < 0) {
        fprintf(stderr, "image_create: %s\n", err.message);
        return 1;
    }
    print_table(&img->exporter, "Read-only image with a single row (a direct view exists):");
    image_destroy(img, NULL);
    return 0;
}

static int show_samples(void)
{
    samples *buf;
    xbuf_error err;
    const int16_t tone[8] = {0, 5793, 8192, 5793, 0, -5793, -8192, -5793};
    if (samples_create(&buf, &err) < 0) {
        fprintf(stderr, "samples: %s\n", err.message);
        return 1;
    }
    if (samples_append(buf, tone, 8, &err) < 0) {
        fprintf(stderr, "samples: %s\n", err.message);
        samples_destroy(buf, NULL);
        return 1;
    }
    print_table(&buf->exporter, "Sample buffer, 8 samples of 16 bits:");

    xbuf_view first, second;
    xbuf_get(&buf->exporter, &first, XBUF_RECORDS_RO, NULL);
    xbuf_get(&buf->exporter, &second, XBUF_SIMPLE, NULL);
    printf("Resizing the sample buffer:\n");
    printf("  with %td views held: append -> %s\n", xbuf_exports_count(&buf->exports),
           samples_append(buf, tone, 8, &err) < 0 ? err.message : "ok (unexpected)");
    xbuf_release(&first);
    printf("  with %td view held:  append -> %s\n", xbuf_exports_count(&buf->exports),
           samples_append(buf, tone, 8, &err) < 0 ? err.message : "ok (unexpected)");
    xbuf_release(&second);
    int rc = samples_append(buf, tone, 8, &err);
    printf("  with %td views held: append -> %s, now %td samples\n",
           xbuf_exports_count(&buf->exports), rc < 0 ? err.message : "ok", buf->length);
    samples_destroy(buf, NULL);
    return rc < 0;
}

int main(void)
{
    printf("xbuf %s -- the extended buffer protocol\n\n", xbuf_version());
    return show_image() || show_samples();
}
