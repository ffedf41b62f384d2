/* A program built only from the installed header and library, as a user
 * would.  The exporter and consumer are the README's example, verbatim. */
#include <stdio.h>
#include <string.h>
#include <xbuf.h>

typedef struct {
    xbuf_exporter exporter;          /* first member: this struct is an exporter */
    double samples[1024];
    xbuf_exports exports;            /* live views; resizing is refused while > 0 */
} recording;

static void recording_release(xbuf_view *view)
{
    recording *s = view->obj;
    xbuf_exports_release(&s->exports, NULL);
}

static int recording_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    recording *s = (recording *)self;
    int rc = xbuf_exports_acquire(&s->exports, err);
    if (rc < 0)
        return rc;
    rc = xbuf_fill_info(view, s, s->samples, (ptrdiff_t)sizeof s->samples, 0, flags, err);
    if (rc < 0) {
        xbuf_exports_release(&s->exports, NULL);
        return rc;
    }
    view->release = recording_release;
    return XBUF_OK;
}

/* A consumer. */
static int use(recording *s)
{
    xbuf_view view;
    xbuf_error err;
    if (xbuf_get(&s->exporter, &view, XBUF_CONTIG_RO, &err) < 0) {
        fprintf(stderr, "no view: %s\n", err.message);
        return -1;
    }
    /* ... read view.len bytes at view.buf ... */
    int ok = view.len == (ptrdiff_t)sizeof s->samples && view.ndim == 1 &&
             view.shape[0] == view.len && xbuf_exports_count(&s->exports) == 1 &&
             memcmp(view.buf, s->samples, (size_t)view.len) == 0;
    xbuf_release(&view);
    return ok ? 0 : -1;
}

static recording example = {{recording_get}, {0}, XBUF_EXPORTS_INIT};

int main(void)
{
    example.samples[3] = 0.5;
    int ok = use(&example) == 0 && xbuf_exports_count(&example.exports) == 0 &&
             xbuf_exports_check_resize(&example.exports, NULL) == XBUF_OK;
    printf("consumer: xbuf %s, README example -> %s\n", xbuf_version(), ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
