/*
 * xbuf -- the command-line inspector (layer 7).
 *
 *   xbuf format [--all] FORMAT...
 *
 * shows, for each PEP 3118 format, what one item holds the way pahole shows
 * a C struct: one row per leaf (path, offset, size, kind, byte order and the
 * details that matter for that kind), the holes between leaves, then the
 * itemsize, the alignment and the canonical form xbuf_type_print gives.
 * A malformed format is echoed with a caret under the byte the parser
 * stopped at, so the reason can be read against the text.
 *
 * Exit status: 0 when every format parsed, 1 when one did not, 2 for a
 * usage error.  The tool uses only the public API, as any consumer would.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbuf.h"

enum { EXIT_MALFORMED = 1, EXIT_USAGE = 2 };

/* Rows shown per format unless --all: a (1000,1000)d sub-array has a
 * million leaves, which nobody reads and a terminal chokes on. */
enum { DEFAULT_ROW_LIMIT = 1000 };

typedef struct options {
    bool all; /* show every leaf */
} options;

/* ---- usage and version ---------------------------------------------------- */

static const char SYNOPSIS[] = "usage: xbuf format [--all] FORMAT...\n"
                               "       xbuf --help | --version\n";

static void print_usage(FILE *out)
{
    fputs(SYNOPSIS, out);
    fputs("\n"
          "Commands:\n"
          "  format FORMAT...  show the layout of each PEP 3118 format: one row per\n"
          "                    leaf (path, offset, size, kind, byte order, details),\n"
          "                    the holes, itemsize, alignment and canonical form\n"
          "\n"
          "Options:\n"
          "  --all             show every leaf (default: the first 1000)\n"
          "  -h, --help        show this help and exit\n"
          "  -V, --version     show the version and exit\n"
          "\n"
          "Exit status: 0 success, 1 a format is malformed, 2 usage error.\n"
          "Quote formats for the shell: xbuf format 'T{<i:x:(2,2)d:y:}'\n",
          out);
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "xbuf: %s%s%s\n%sTry 'xbuf --help' for more.\n", what, arg ? ": " : "",
            arg ? arg : "", SYNOPSIS);
    return EXIT_USAGE;
}

static void print_version(void)
{
    /* The header's version and the linked library's can differ when the
     * shared library was upgraded underneath the tool; show both. */
    printf("xbuf %d.%d.%d (library %s)\n", XBUF_VERSION_MAJOR, XBUF_VERSION_MINOR,
           XBUF_VERSION_PATCH, xbuf_version());
}

/* ---- rows ------------------------------------------------------------------ */

enum { DETAIL_SIZE = 128 };

/* One line of the table: a leaf, or a gap no leaf covers (type NULL). */
typedef struct row {
    char *path;
    ptrdiff_t offset, size;
    const xbuf_type *type;
    bool tail; /* a gap: after the last leaf rather than between two */
    char detail[DETAIL_SIZE];
} row;

typedef struct table {
    row *rows;
    size_t count, capacity;
    size_t leaves;        /* leaves stored (holes not counted) */
    size_t limit;         /* leaves to store; 0: no limit */
    bool truncated;       /* the walk stopped at the limit */
    ptrdiff_t covered;    /* end of the highest byte any leaf so far uses */
    ptrdiff_t hole_bytes; /* sum of the holes */
    size_t holes;
    bool out_of_memory;
} table;

/* The format code as written: "Zd" for complex, else one character. */
static void code_text(const xbuf_type *t, char out[3])
{
    bool complex = t->kind == XBUF_KIND_COMPLEX;
    out[0] = complex ? 'Z' : t->code;
    out[1] = complex ? t->code : '\0';
    out[2] = '\0';
}

/* Canonical text of a type, malloc'd; NULL when it cannot be printed. */
static char *canonical_text(const xbuf_type *t)
{
    size_t length = 0;
    if (xbuf_type_print(t, NULL, 0, &length, NULL) != XBUF_ERANGE)
        return NULL;
    char *text = malloc(length + 1);
    if (text != NULL && xbuf_type_print(t, text, length + 1, NULL, NULL) != XBUF_OK) {
        free(text);
        return NULL;
    }
    return text;
}

/* What one kind needs beyond offset and size: where bits sit, how long a
 * string is, what a pointer points to. */
static void leaf_detail(const xbuf_type *t, char *out, size_t size)
{
    out[0] = '\0';
    switch (t->kind) {
    case XBUF_KIND_BITS:
        snprintf(out, size, "bit %d, width %td", t->bit_offset, t->count);
        break;
    case XBUF_KIND_BYTES:
    case XBUF_KIND_PASCAL:
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4:
    case XBUF_KIND_VOID:
        snprintf(out, size, "length %td", t->count);
        break;
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION: {
        const xbuf_type *shown = t->kind == XBUF_KIND_POINTER ? t->target : t;
        char *text = shown ? canonical_text(shown) : NULL;
        snprintf(out, size, "%s%s", t->kind == XBUF_KIND_POINTER ? "-> " : "",
                 text ? text : "?");
        free(text);
        break;
    }
    default:
        break;
    }
}

static row *table_push(table *tb)
{
    if (tb->count == tb->capacity) {
        size_t capacity = tb->capacity ? 2 * tb->capacity : 64;
        row *grown = realloc(tb->rows, capacity * sizeof *grown);
        if (grown == NULL)
            return NULL;
        tb->rows = grown;
        tb->capacity = capacity;
    }
    row *r = &tb->rows[tb->count++];
    memset(r, 0, sizeof *r);
    return r;
}

/* A gap no leaf covers: padding, as pahole's "XXX n bytes hole". */
static bool table_add_gap(table *tb, ptrdiff_t from, ptrdiff_t to, bool tail)
{
    row *r = table_push(tb);
    if (r == NULL)
        return false;
    r->offset = from;
    r->size = to - from;
    r->tail = tail;
    if (!tail) {
        tb->holes++;
        tb->hole_bytes += to - from;
    }
    return true;
}

static int collect_leaf(const xbuf_leaf *leaf, void *context)
{
    table *tb = context;
    if (tb->limit != 0 && tb->leaves == tb->limit) {
        tb->truncated = true;
        return 1; /* stop the walk: the rest would not be shown */
    }
    if (leaf->offset > tb->covered && !table_add_gap(tb, tb->covered, leaf->offset, false))
        goto oom;
    row *r = table_push(tb);
    /* A format that is one leaf has the empty path: name it. */
    if (r == NULL || (r->path = strdup(leaf->path[0] ? leaf->path : "(item)")) == NULL)
        goto oom;
    r->offset = leaf->offset;
    r->size = leaf->type->itemsize;
    r->type = leaf->type;
    leaf_detail(leaf->type, r->detail, sizeof r->detail);
    tb->leaves++;
    if (leaf->offset + r->size > tb->covered)
        tb->covered = leaf->offset + r->size;
    return 0;
oom:
    tb->out_of_memory = true;
    return 1;
}

static void table_free(table *tb)
{
    for (size_t i = 0; i < tb->count; i++)
        free(tb->rows[i].path);
    free(tb->rows);
}

/* ---- printing the table ----------------------------------------------------- */

typedef struct widths {
    int path, offset, size, kind, code;
} widths;

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

static int number_width(ptrdiff_t value)
{
    char digits[32];
    return snprintf(digits, sizeof digits, "%td", value);
}

/* Column widths: the widest cell of each column, headers included. */
static widths measure(const table *tb)
{
    widths w = {4, 6, 4, 4, 4}; /* "path" "offset" "size" "kind" "code" */
    for (size_t i = 0; i < tb->count; i++) {
        const row *r = &tb->rows[i];
        w.offset = max_int(w.offset, number_width(r->offset));
        w.size = max_int(w.size, number_width(r->size));
        if (r->type == NULL)
            continue;
        w.path = max_int(w.path, (int)strlen(r->path));
        w.kind = max_int(w.kind, (int)strlen(xbuf_kind_name(r->type->kind)));
    }
    return w;
}

static void print_row(const row *r, const widths *w)
{
    if (r->type == NULL) {
        printf("  %-*s  %*td  %*td  /* %s: %td byte%s of padding */\n", w->path, "",
               w->offset, r->offset, w->size, r->size, r->tail ? "tail" : "hole", r->size,
               r->size == 1 ? "" : "s");
        return;
    }
    char code[3];
    code_text(r->type, code);
    char order[2] = {r->type->byteorder, '\0'};
    printf("  %-*s  %*td  %*td  %-*s  %-*s  ", w->path, r->path, w->offset, r->offset, w->size,
           r->size, w->kind, xbuf_kind_name(r->type->kind), w->code, code);
    if (r->detail[0] != '\0')
        printf("%-5s  %s\n", order, r->detail);
    else
        printf("%s\n", order); /* no trailing blanks */
}

static void print_table(const table *tb)
{
    widths w = measure(tb);
    printf("  %-*s  %*s  %*s  %-*s  %-*s  %-5s  %s\n", w.path, "path", w.offset, "offset",
           w.size, "size", w.kind, "kind", w.code, "code", "order", "detail");
    for (size_t i = 0; i < tb->count; i++)
        print_row(&tb->rows[i], &w);
    if (tb->truncated)
        printf("  ... more leaves not shown (--all shows every leaf)\n");
}

static void print_summary(const xbuf_type *root, const table *tb)
{
    printf("  itemsize %td, alignment %td, %zu lea%s", root->itemsize, root->alignment,
           tb->leaves, tb->leaves == 1 ? "f" : "ves");
    if (tb->truncated)
        printf(" shown");
    if (tb->holes > 0)
        printf(", %td byte%s in %zu hole%s", tb->hole_bytes, tb->hole_bytes == 1 ? "" : "s",
               tb->holes, tb->holes == 1 ? "" : "s");
    if (!tb->truncated && root->itemsize > tb->covered)
        printf(", %td byte%s of tail padding", root->itemsize - tb->covered,
               root->itemsize - tb->covered == 1 ? "" : "s");
    printf("\n");
    char *text = canonical_text(root);
    printf("  canonical %s\n", text ? text : "(cannot be printed)");
    free(text);
}

/* ---- malformed formats ------------------------------------------------------ */

/* The terminal column of byte `position`: UTF-8 continuation bytes take no
 * column of their own, so a caret under a name in UTF-8 still lines up. */
static size_t caret_column(const char *text, size_t position)
{
    size_t column = 0;
    for (size_t i = 0; i < position && text[i] != '\0'; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            column++;
    return column;
}

/* Control characters would move the caret; show them as '?'. */
static void print_visible(FILE *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++)
        fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, out);
}

static void report_malformed(const char *text, const xbuf_error *err, bool separate)
{
    fflush(stdout); /* keep the order of the two streams on one terminal */
    fprintf(stderr, "%sxbuf: malformed format (%s)\n  ", separate ? "\n" : "",
            xbuf_strerror(err->code));
    print_visible(stderr, text);
    fputc('\n', stderr);
    if (err->position >= 0)
        fprintf(stderr, "  %*s^\n", (int)caret_column(text, (size_t)err->position), "");
    fprintf(stderr, "  %s\n", err->message);
}

/* ---- the format command ----------------------------------------------------- */

static int show_layout(const xbuf_type *root, const options *opt)
{
    table tb = {0};
    tb.limit = opt->all ? 0 : DEFAULT_ROW_LIMIT;
    xbuf_error err;
    int rc = xbuf_type_walk(root, collect_leaf, &tb, &err);
    if (rc < 0) {
        fprintf(stderr, "xbuf: cannot walk the format: %s\n", err.message);
        table_free(&tb);
        return EXIT_MALFORMED;
    }
    if (!tb.truncated && root->itemsize > tb.covered &&
        !table_add_gap(&tb, tb.covered, root->itemsize, true))
        tb.out_of_memory = true;
    if (tb.out_of_memory) {
        fprintf(stderr, "xbuf: out of memory\n");
        table_free(&tb);
        return EXIT_MALFORMED;
    }
    print_table(&tb);
    print_summary(root, &tb);
    table_free(&tb);
    return EXIT_SUCCESS;
}

/* One format's section; `separate` puts a blank line before it, on the
 * stream the section goes to. */
static int inspect_format(const char *text, const options *opt, bool separate)
{
    xbuf_format *format;
    xbuf_error err;
    if (xbuf_format_parse(text, &format, &err) < 0) {
        report_malformed(text, &err, separate);
        return EXIT_MALFORMED;
    }
    printf("%s%s\n", separate ? "\n" : "", text);
    int status = show_layout(xbuf_format_type(format), opt);
    xbuf_format_release(format);
    return status;
}

static int command_format(int argc, char **argv)
{
    options opt = {false};
    int first = 0;
    for (; first < argc && argv[first][0] == '-' && argv[first][1] != '\0'; first++) {
        if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        }
        if (strcmp(argv[first], "--all") != 0)
            return usage_error("unknown option", argv[first]);
        opt.all = true;
    }
    if (first == argc)
        return usage_error("format needs at least one FORMAT", NULL);
    int status = EXIT_SUCCESS;
    for (int i = first; i < argc; i++)
        if (inspect_format(argv[i], &opt, i > first) != EXIT_SUCCESS)
            status = EXIT_MALFORMED;
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("no command given", NULL);
    const char *command = argv[1];
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0) {
        print_usage(stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(command, "-V") == 0 || strcmp(command, "--version") == 0) {
        print_version();
        return EXIT_SUCCESS;
    }
    if (strcmp(command, "format") == 0)
        return command_format(argc - 2, argv + 2);
    return usage_error("unknown command", command);
}
