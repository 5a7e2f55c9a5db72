/*
 * Strict TOML v1.0 reader (without dates/times). See tp_toml.h and
 * docs/CONFIG.md for the dialect.
 *
 * Structure: the whole input is validated first (size, NUL, UTF-8, bare CR),
 * then a hand-written recursive-descent parser builds the tree. Recursion only
 * happens for nested arrays/inline tables and is bounded by TP_TOML_MAX_DEPTH.
 * All memory comes from one arena per document, released by tp_toml_free().
 */
#include "common/tp_toml.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"

/* ------------------------------------------------------------------------ */
/* Data structures                                                          */
/* ------------------------------------------------------------------------ */

/* How a table came to exist; decides whether it may be (re)opened later. */
enum
{
    TBL_ROOT = 0,     /* the document root */
    TBL_IMPLICIT = 1, /* created as a parent by a header path: may get its own header once */
    TBL_HEADER = 2,   /* defined by [header] */
    TBL_DOTTED = 3,   /* created by a dotted key: extendable only within its section */
    TBL_INLINE = 4    /* { inline } table: sealed */
};

/* Array kinds. */
enum
{
    ARR_STATIC = 0, /* [ value, ... ]: sealed */
    ARR_TABLES = 1  /* [[array.of.tables]] */
};

typedef struct tp_toml_entry_stct
{
    const char *key;
    tp_toml_value_t *val;
} tp_toml_entry_t;

struct tp_toml_value_stct
{
    tp_toml_type_t type;
    uint32_t line;
    uint8_t kind;     /* TBL_* for tables, ARR_* for arrays */
    bool big;         /* integer above INT64_MAX: stored in u.uint */
    uint32_t section; /* TBL_DOTTED: section that created it */
    const tp_toml_value_t *parent;
    const char *key; /* key in the parent table, NULL for array elements */
    size_t index;    /* index in the parent array */
    union
    {
        struct
        {
            tp_toml_entry_t *entries;
            size_t n;
            size_t cap;
            uint32_t *hash; /* open addressing, entry index + 1; NULL while small */
            size_t hash_cap;
        } tab;
        struct
        {
            tp_toml_value_t **items;
            size_t n;
            size_t cap;
        } arr;
        struct
        {
            char *s;
            size_t len;
        } str;
        int64_t i64;
        uint64_t u64;
        double f;
        bool b;
    } u;
};

typedef struct tp_toml_block_stct
{
    struct tp_toml_block_stct *next;
    size_t used;
    size_t cap;
    max_align_t data[];
} tp_toml_block_t;

struct tp_toml_stct
{
    tp_toml_block_t *blocks;
    const char *name;
    tp_toml_value_t *root;
    tp_toml_env_fn_t env_fn;
    void *env_clientd;
};

#define TP_TOML_BLOCK_SIZE ((size_t)64 * 1024)
#define TP_TOML_HASH_MIN 8

static void *arena_alloc(tp_toml_t *doc, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size = (size + align - 1) / align * align;
    if (0 == size)
    {
        size = align;
    }
    tp_toml_block_t *b = doc->blocks;
    if (NULL == b || b->cap - b->used < size)
    {
        size_t cap = size > TP_TOML_BLOCK_SIZE ? size : TP_TOML_BLOCK_SIZE;
        b = calloc(1, sizeof(*b) + cap);
        if (NULL == b)
        {
            tp_err_set(TP_ERR_NO_MEMORY, "TOML reader: out of memory");
            return NULL;
        }
        b->cap = cap;
        if (size > TP_TOML_BLOCK_SIZE && NULL != doc->blocks)
        {
            /* Keep filling the current block; chain the big one behind it. */
            b->next = doc->blocks->next;
            doc->blocks->next = b;
        }
        else
        {
            b->next = doc->blocks;
            doc->blocks = b;
        }
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

static char *arena_strdup(tp_toml_t *doc, const char *s, size_t len)
{
    char *copy = arena_alloc(doc, len + 1);
    if (NULL != copy)
    {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

/* ------------------------------------------------------------------------ */
/* Tables and arrays                                                        */
/* ------------------------------------------------------------------------ */

static uint32_t key_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

static tp_toml_entry_t *table_find(const tp_toml_value_t *t, const char *key)
{
    if (NULL != t->u.tab.hash)
    {
        size_t mask = t->u.tab.hash_cap - 1;
        for (size_t i = key_hash(key) & mask;; i = (i + 1) & mask)
        {
            uint32_t slot = t->u.tab.hash[i];
            if (0 == slot)
            {
                return NULL;
            }
            tp_toml_entry_t *e = &t->u.tab.entries[slot - 1];
            if (0 == strcmp(e->key, key))
            {
                return e;
            }
        }
    }
    for (size_t i = 0; i < t->u.tab.n; i++)
    {
        if (0 == strcmp(t->u.tab.entries[i].key, key))
        {
            return &t->u.tab.entries[i];
        }
    }
    return NULL;
}

static int table_rehash(tp_toml_t *doc, tp_toml_value_t *t)
{
    size_t cap = 16;
    while (cap < t->u.tab.n * 2 + 2)
    {
        cap *= 2;
    }
    uint32_t *hash = arena_alloc(doc, cap * sizeof(uint32_t));
    if (NULL == hash)
    {
        return -1;
    }
    memset(hash, 0, cap * sizeof(uint32_t));
    for (size_t n = 0; n < t->u.tab.n; n++)
    {
        size_t i = key_hash(t->u.tab.entries[n].key) & (cap - 1);
        while (0 != hash[i])
        {
            i = (i + 1) & (cap - 1);
        }
        hash[i] = (uint32_t)(n + 1);
    }
    t->u.tab.hash = hash;
    t->u.tab.hash_cap = cap;
    return 0;
}

/* Append key -> val (the caller checked that the key is new). */
static int table_add(tp_toml_t *doc, tp_toml_value_t *t, const char *key, tp_toml_value_t *val)
{
    if (t->u.tab.n == t->u.tab.cap)
    {
        size_t cap = 0 == t->u.tab.cap ? 8 : t->u.tab.cap * 2;
        tp_toml_entry_t *entries = arena_alloc(doc, cap * sizeof(*entries));
        if (NULL == entries)
        {
            return -1;
        }
        if (t->u.tab.n > 0)
        {
            memcpy(entries, t->u.tab.entries, t->u.tab.n * sizeof(*entries));
        }
        t->u.tab.entries = entries;
        t->u.tab.cap = cap;
    }
    t->u.tab.entries[t->u.tab.n].key = key;
    t->u.tab.entries[t->u.tab.n].val = val;
    t->u.tab.n++;
    val->parent = t;
    val->key = key;
    if (t->u.tab.n >= TP_TOML_HASH_MIN)
    {
        if (NULL == t->u.tab.hash || t->u.tab.n * 2 >= t->u.tab.hash_cap)
        {
            return table_rehash(doc, t);
        }
        size_t mask = t->u.tab.hash_cap - 1;
        size_t i = key_hash(key) & mask;
        while (0 != t->u.tab.hash[i])
        {
            i = (i + 1) & mask;
        }
        t->u.tab.hash[i] = (uint32_t)t->u.tab.n;
    }
    return 0;
}

static int array_add(tp_toml_t *doc, tp_toml_value_t *a, tp_toml_value_t *val)
{
    if (a->u.arr.n == a->u.arr.cap)
    {
        size_t cap = 0 == a->u.arr.cap ? 4 : a->u.arr.cap * 2;
        tp_toml_value_t **items = arena_alloc(doc, cap * sizeof(*items));
        if (NULL == items)
        {
            return -1;
        }
        if (a->u.arr.n > 0)
        {
            memcpy(items, a->u.arr.items, a->u.arr.n * sizeof(*items));
        }
        a->u.arr.items = items;
        a->u.arr.cap = cap;
    }
    val->parent = a;
    val->key = NULL;
    val->index = a->u.arr.n;
    a->u.arr.items[a->u.arr.n++] = val;
    return 0;
}

static tp_toml_value_t *value_new(tp_toml_t *doc, tp_toml_type_t type, uint32_t line)
{
    tp_toml_value_t *v = arena_alloc(doc, sizeof(*v));
    if (NULL != v)
    {
        memset(v, 0, sizeof(*v));
        v->type = type;
        v->line = line;
    }
    return v;
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

static bool is_bare_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_bare_key(const char *key)
{
    if ('\0' == *key)
    {
        return false;
    }
    for (; *key; key++)
    {
        if (!is_bare_char((unsigned char)*key))
        {
            return false;
        }
    }
    return true;
}

/* Append to buf[len], tracking the untruncated length in *pos. */
static void path_put(char *buf, size_t len, size_t *pos, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
    {
        if (*pos + 1 < len)
        {
            buf[*pos] = s[i];
        }
        (*pos)++;
    }
}

static void path_put_key(char *buf, size_t len, size_t *pos, const char *key)
{
    if (is_bare_key(key))
    {
        path_put(buf, len, pos, key, strlen(key));
        return;
    }
    path_put(buf, len, pos, "\"", 1);
    for (const char *k = key; *k; k++)
    {
        unsigned char c = (unsigned char)*k;
        if (c < 0x20 || 0x7f == c)
        {
            char esc[8];
            int n = snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)c);
            path_put(buf, len, pos, esc, (size_t)n);
            continue;
        }
        if ('"' == c || '\\' == c)
        {
            path_put(buf, len, pos, "\\", 1);
        }
        path_put(buf, len, pos, k, 1);
    }
    path_put(buf, len, pos, "\"", 1);
}

size_t tp_toml_value_path(const tp_toml_value_t *v, char *buf, size_t len)
{
    size_t depth = 0;
    for (const tp_toml_value_t *p = v; NULL != p && NULL != p->parent; p = p->parent)
    {
        depth++;
    }
    size_t pos = 0;
    /* Emit from the root down: find the ancestor at each depth (paths are short). */
    for (size_t d = depth; d > 0; d--)
    {
        const tp_toml_value_t *node = v;
        for (size_t up = 1; up < d; up++)
        {
            node = node->parent;
        }
        if (NULL != node->key)
        {
            if (d != depth)
            {
                path_put(buf, len, &pos, ".", 1);
            }
            path_put_key(buf, len, &pos, node->key);
        }
        else
        {
            char idx[32];
            int n = snprintf(idx, sizeof(idx), "[%zu]", node->index);
            path_put(buf, len, &pos, idx, (size_t)n);
        }
    }
    if (len > 0)
    {
        buf[pos < len ? pos : len - 1] = '\0';
    }
    return pos;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct tp_toml_loc_stct
{
    uint32_t line;
    size_t col;
} tp_toml_loc_t;

typedef struct tp_toml_key_stct
{
    const char *parts[TP_TOML_MAX_KEY_PARTS];
    tp_toml_loc_t locs[TP_TOML_MAX_KEY_PARTS];
    size_t n;
} tp_toml_key_t;

typedef struct tp_toml_parser_stct
{
    tp_toml_t *doc;
    const char *name;
    const unsigned char *src;
    size_t len;
    size_t pos;
    uint32_t line;
    size_t line_start;
    char *buf; /* scratch for strings and numbers */
    size_t buf_len;
    size_t buf_cap;
    uint32_t next_section;
    int depth;
} tp_toml_parser_t;

static tp_toml_loc_t here(const tp_toml_parser_t *p)
{
    tp_toml_loc_t loc = { p->line, p->pos - p->line_start + 1 };
    return loc;
}

static int perr_at(const tp_toml_parser_t *p, tp_toml_loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr_at(const tp_toml_parser_t *p, tp_toml_loc_t loc, const char *fmt, ...)
{
    char msg[TP_ERRMSG_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);
    return tp_err_set(TP_ERR_CONFIG, "%s:%" PRIu32 ":%zu: %s", p->name, loc.line, loc.col, msg);
}

#define PERR(p, ...) perr_at((p), here(p), __VA_ARGS__)

static int cur(const tp_toml_parser_t *p)
{
    return p->pos < p->len ? p->src[p->pos] : -1;
}

static int peek(const tp_toml_parser_t *p, size_t ahead)
{
    return p->pos + ahead < p->len ? p->src[p->pos + ahead] : -1;
}

static bool at_eof(const tp_toml_parser_t *p)
{
    return p->pos >= p->len;
}

/* Length of the newline at the cursor (1 for LF, 2 for CRLF) or 0. */
static size_t newline_len(const tp_toml_parser_t *p)
{
    int c = cur(p);
    if ('\n' == c)
    {
        return 1;
    }
    if ('\r' == c && '\n' == peek(p, 1))
    {
        return 2;
    }
    return 0;
}

static void consume_newline(tp_toml_parser_t *p, size_t n)
{
    p->pos += n;
    p->line++;
    p->line_start = p->pos;
}

/* Describe the character at the cursor for messages. */
static const char *describe(const tp_toml_parser_t *p, char *buf, size_t len)
{
    int c = cur(p);
    if (c < 0)
    {
        snprintf(buf, len, "end of file");
    }
    else if (newline_len(p) > 0)
    {
        snprintf(buf, len, "end of line");
    }
    else if (c > 0x20 && c < 0x7f)
    {
        snprintf(buf, len, "'%c'", c);
    }
    else if (' ' == c || '\t' == c)
    {
        snprintf(buf, len, "whitespace");
    }
    else
    {
        snprintf(buf, len, "byte 0x%02x", (unsigned)c);
    }
    return buf;
}

static void skip_ws(tp_toml_parser_t *p)
{
    while (p->pos < p->len && (' ' == p->src[p->pos] || '\t' == p->src[p->pos]))
    {
        p->pos++;
    }
}

static bool is_control(int c)
{
    return (c >= 0 && c < 0x20 && c != '\t') || 0x7f == c;
}

/* Skip a comment up to (not including) the end of line. */
static int skip_comment(tp_toml_parser_t *p)
{
    while (!at_eof(p) && 0 == newline_len(p))
    {
        if (is_control(cur(p)))
        {
            return PERR(p, "control character 0x%02x in comment", (unsigned)cur(p));
        }
        p->pos++;
    }
    return 0;
}

/* Skip whitespace, newlines and comments (inside arrays). */
static int skip_ws_nl(tp_toml_parser_t *p)
{
    for (;;)
    {
        skip_ws(p);
        size_t nl = newline_len(p);
        if (nl > 0)
        {
            consume_newline(p, nl);
        }
        else if ('#' == cur(p))
        {
            if (skip_comment(p) < 0)
            {
                return -1;
            }
        }
        else
        {
            return 0;
        }
    }
}

static int buf_reserve(tp_toml_parser_t *p, size_t extra)
{
    if (p->buf_len + extra + 1 > p->buf_cap)
    {
        size_t cap = 0 == p->buf_cap ? 256 : p->buf_cap;
        while (cap < p->buf_len + extra + 1)
        {
            cap *= 2;
        }
        char *nb = realloc(p->buf, cap);
        if (NULL == nb)
        {
            return tp_err_set(TP_ERR_NO_MEMORY, "TOML reader: out of memory");
        }
        p->buf = nb;
        p->buf_cap = cap;
    }
    return 0;
}

static int buf_put(tp_toml_parser_t *p, const void *data, size_t n)
{
    if (buf_reserve(p, n) < 0)
    {
        return -1;
    }
    memcpy(p->buf + p->buf_len, data, n);
    p->buf_len += n;
    p->buf[p->buf_len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Input validation                                                         */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s[0..n) or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
    {
        return 1;
    }
    size_t len;
    unsigned min;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf)
    {
        len = 2;
        min = 0x80;
        cp = c & 0x1f;
    }
    else if (c >= 0xe0 && c <= 0xef)
    {
        len = 3;
        min = 0x800;
        cp = c & 0x0f;
    }
    else if (c >= 0xf0 && c <= 0xf4)
    {
        len = 4;
        min = 0x10000;
        cp = c & 0x07;
    }
    else
    {
        return 0;
    }
    if (n < len)
    {
        return 0;
    }
    for (size_t i = 1; i < len; i++)
    {
        if ((s[i] & 0xc0) != 0x80)
        {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }
    return len;
}

static int validate_input(tp_toml_parser_t *p)
{
    uint32_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < p->len;)
    {
        unsigned char c = p->src[i];
        tp_toml_loc_t loc = { line, i - line_start + 1 };
        if ('\0' == c)
        {
            return perr_at(p, loc, "NUL byte in input");
        }
        if ('\r' == c && (i + 1 >= p->len || '\n' != p->src[i + 1]))
        {
            return perr_at(p, loc, "carriage return not followed by a line feed");
        }
        if ('\n' == c)
        {
            line++;
            line_start = i + 1;
        }
        size_t n = utf8_seq_len(p->src + i, p->len - i);
        if (0 == n)
        {
            return perr_at(p, loc, "invalid UTF-8 byte sequence (byte 0x%02x); the file must be UTF-8", c);
        }
        i += n;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */
/* ------------------------------------------------------------------------ */

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
    {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f')
    {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F')
    {
        return c - 'A' + 10;
    }
    return -1;
}

static int put_utf8(tp_toml_parser_t *p, uint32_t cp)
{
    unsigned char out[4];
    size_t n;
    if (cp < 0x80)
    {
        out[0] = (unsigned char)cp;
        n = 1;
    }
    else if (cp < 0x800)
    {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    }
    else if (cp < 0x10000)
    {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    }
    else
    {
        out[0] = (unsigned char)(0xf0 | (cp >> 18));
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return buf_put(p, out, n);
}

/* Escape sequence at the cursor (on the backslash). */
static int parse_escape(tp_toml_parser_t *p)
{
    tp_toml_loc_t loc = here(p);
    int c = peek(p, 1);
    char ch;
    switch (c)
    {
        case 'b': ch = '\b'; break;
        case 't': ch = '\t'; break;
        case 'n': ch = '\n'; break;
        case 'f': ch = '\f'; break;
        case 'r': ch = '\r'; break;
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case 'u':
        case 'U':
        {
            size_t digits = 'u' == c ? 4 : 8;
            uint32_t cp = 0;
            for (size_t i = 0; i < digits; i++)
            {
                int h = hex_value(peek(p, 2 + i));
                if (h < 0)
                {
                    return perr_at(p, loc, "invalid escape: \\%c needs exactly %zu hexadecimal digits", c, digits);
                }
                cp = (cp << 4) | (uint32_t)h;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            {
                return perr_at(p, loc, "invalid escape: U+%04" PRIX32 " is not a Unicode scalar value", cp);
            }
            if (0 == cp)
            {
                return perr_at(p, loc, "invalid escape: NUL (U+0000) is not allowed in strings");
            }
            p->pos += 2 + digits;
            return put_utf8(p, cp);
        }
        default:
        {
            char d[32];
            p->pos++;
            describe(p, d, sizeof(d));
            p->pos--;
            return perr_at(p, loc,
                "invalid escape sequence: backslash followed by %s (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX "
                "\\UXXXXXXXX)",
                d);
        }
    }
    p->pos += 2;
    return buf_put(p, &ch, 1);
}

/*
 * String at the cursor (on the opening quote) into p->buf. Handles all four
 * forms; `allow_multi` is false for keys.
 */
static int parse_string(tp_toml_parser_t *p, bool allow_multi)
{
    tp_toml_loc_t start = here(p);
    const int q = cur(p);
    const bool basic = '"' == q;
    const bool multi = q == peek(p, 1) && q == peek(p, 2);
    p->buf_len = 0;
    if (buf_reserve(p, 0) < 0)
    {
        return -1;
    }
    p->buf[0] = '\0';
    if (multi)
    {
        if (!allow_multi)
        {
            return perr_at(p, start, "multi-line strings cannot be used as keys");
        }
        p->pos += 3;
        size_t nl = newline_len(p);
        if (nl > 0)
        {
            consume_newline(p, nl); /* a newline right after the opening quotes is trimmed */
        }
    }
    else
    {
        p->pos++;
    }
    for (;;)
    {
        int c = cur(p);
        if (c < 0)
        {
            return perr_at(p, start, "unterminated string (missing closing %s)",
                multi ? (basic ? "\"\"\"" : "'''") : (basic ? "\"" : "'"));
        }
        if (c == q)
        {
            if (!multi)
            {
                p->pos++;
                return 0;
            }
            size_t run = 0;
            while (q == peek(p, run))
            {
                run++;
            }
            if (run >= 3)
            {
                if (run > 5)
                {
                    return PERR(p, "too many quotes at the end of a multi-line string");
                }
                for (size_t i = 0; i < run - 3; i++)
                {
                    char ch = (char)q;
                    if (buf_put(p, &ch, 1) < 0)
                    {
                        return -1;
                    }
                }
                p->pos += run;
                return 0;
            }
            for (size_t i = 0; i < run; i++)
            {
                char ch = (char)q;
                if (buf_put(p, &ch, 1) < 0)
                {
                    return -1;
                }
            }
            p->pos += run;
            continue;
        }
        size_t nl = newline_len(p);
        if (nl > 0)
        {
            if (!multi)
            {
                return perr_at(p, start, "unterminated string (newline before the closing quote)");
            }
            if (buf_put(p, "\n", 1) < 0)
            {
                return -1;
            }
            consume_newline(p, nl);
            continue;
        }
        if ('\\' == c && basic)
        {
            if (multi)
            {
                /* Line-ending backslash: trim whitespace and newlines that follow. */
                size_t i = 1;
                while (' ' == peek(p, i) || '\t' == peek(p, i))
                {
                    i++;
                }
                if ('\n' == peek(p, i) || ('\r' == peek(p, i) && '\n' == peek(p, i + 1)))
                {
                    p->pos += i;
                    for (;;)
                    {
                        skip_ws(p);
                        size_t n2 = newline_len(p);
                        if (0 == n2)
                        {
                            break;
                        }
                        consume_newline(p, n2);
                    }
                    continue;
                }
            }
            if (parse_escape(p) < 0)
            {
                return -1;
            }
            continue;
        }
        if (is_control(c))
        {
            return PERR(p, "control character 0x%02x in string (use an escape sequence)", (unsigned)c);
        }
        char ch = (char)c;
        if (buf_put(p, &ch, 1) < 0)
        {
            return -1;
        }
        p->pos++;
    }
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

static int parse_key(tp_toml_parser_t *p, tp_toml_key_t *key)
{
    key->n = 0;
    for (;;)
    {
        skip_ws(p);
        tp_toml_loc_t loc = here(p);
        int c = cur(p);
        const char *part;
        if ('"' == c || '\'' == c)
        {
            if (parse_string(p, false) < 0)
            {
                return -1;
            }
            part = arena_strdup(p->doc, p->buf, p->buf_len);
        }
        else if (c >= 0 && is_bare_char(c))
        {
            size_t s = p->pos;
            while (p->pos < p->len && is_bare_char(p->src[p->pos]))
            {
                p->pos++;
            }
            int n = cur(p);
            if (!(n < 0 || ' ' == n || '\t' == n || '.' == n || '=' == n || ']' == n || '#' == n || ',' == n ||
                    '}' == n || newline_len(p) > 0))
            {
                char d[32];
                return PERR(p, "invalid character %s in bare key (bare keys may only contain A-Z a-z 0-9 _ -; "
                               "quote other keys)",
                    describe(p, d, sizeof(d)));
            }
            part = arena_strdup(p->doc, (const char *)p->src + s, p->pos - s);
        }
        else
        {
            char d[32];
            return PERR(p, "expected a key, found %s", describe(p, d, sizeof(d)));
        }
        if (NULL == part)
        {
            return -1;
        }
        if (key->n == TP_TOML_MAX_KEY_PARTS)
        {
            return perr_at(p, loc, "key has more than %d dotted components", TP_TOML_MAX_KEY_PARTS);
        }
        key->parts[key->n] = part;
        key->locs[key->n] = loc;
        key->n++;
        skip_ws(p);
        if ('.' != cur(p))
        {
            return 0;
        }
        p->pos++;
    }
}

/* Dotted form of key parts [0, n) for messages, prefixed by the table path. */
static const char *key_text(const tp_toml_value_t *base, const tp_toml_key_t *key, size_t n, char *buf,
    size_t len)
{
    size_t pos = tp_toml_value_path(base, buf, len);
    for (size_t i = 0; i < n; i++)
    {
        if (pos > 0)
        {
            path_put(buf, len, &pos, ".", 1);
        }
        path_put_key(buf, len, &pos, key->parts[i]);
    }
    if (len > 0)
    {
        buf[pos < len ? pos : len - 1] = '\0';
    }
    return buf;
}

static const char *what_is(const tp_toml_value_t *v)
{
    if (TP_TOML_TABLE == v->type)
    {
        return TBL_INLINE == v->kind ? "an inline table" : "a table";
    }
    if (TP_TOML_ARRAY == v->type)
    {
        return ARR_TABLES == v->kind ? "an array of tables" : "an array";
    }
    switch (v->type)
    {
        case TP_TOML_STRING: return "a string";
        case TP_TOML_INTEGER: return "an integer";
        case TP_TOML_FLOAT: return "a float";
        default: return "a boolean";
    }
}

/* Insert `val` at dotted key `key` below `base` (a key/value line or inline-table entry). */
static int insert_kv(tp_toml_parser_t *p, tp_toml_value_t *base, const tp_toml_key_t *key, tp_toml_value_t *val,
    uint32_t section)
{
    char path[256];
    tp_toml_value_t *t = base;
    for (size_t i = 0; i + 1 < key->n; i++)
    {
        tp_toml_entry_t *e = table_find(t, key->parts[i]);
        if (NULL == e)
        {
            tp_toml_value_t *nt = value_new(p->doc, TP_TOML_TABLE, key->locs[i].line);
            if (NULL == nt)
            {
                return -1;
            }
            nt->kind = TBL_DOTTED;
            nt->section = section;
            if (table_add(p->doc, t, key->parts[i], nt) < 0)
            {
                return -1;
            }
            t = nt;
            continue;
        }
        tp_toml_value_t *v = e->val;
        if (TP_TOML_TABLE != v->type)
        {
            return perr_at(p, key->locs[i], "cannot define keys below '%s': it is already %s (line %" PRIu32 ")",
                key_text(base, key, i + 1, path, sizeof(path)), what_is(v), v->line);
        }
        if (TBL_INLINE == v->kind)
        {
            return perr_at(p, key->locs[i], "cannot add keys to inline table '%s' (defined at line %" PRIu32 ")",
                key_text(base, key, i + 1, path, sizeof(path)), v->line);
        }
        if (TBL_HEADER == v->kind || TBL_ROOT == v->kind || (TBL_DOTTED == v->kind && v->section != section))
        {
            return perr_at(p, key->locs[i],
                "cannot extend table '%s' with dotted keys here: it was already defined at line %" PRIu32,
                key_text(base, key, i + 1, path, sizeof(path)), v->line);
        }
        if (TBL_IMPLICIT == v->kind)
        {
            v->kind = TBL_DOTTED;
            v->section = section;
        }
        t = v;
    }
    const char *last = key->parts[key->n - 1];
    tp_toml_entry_t *e = table_find(t, last);
    if (NULL != e)
    {
        key_text(base, key, key->n, path, sizeof(path));
        return perr_at(p, key->locs[key->n - 1], "duplicate key '%s' (already defined as %s at line %" PRIu32 ")",
            path, what_is(e->val), e->val->line);
    }
    return table_add(p->doc, t, last, val);
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_number_char(int c)
{
    return is_bare_char(c) || '+' == c || '.' == c || ':' == c;
}

/*
 * Check digits with '_' separators in s[0..n) for `base` and append the digits
 * to p->buf. `what` names the part for messages.
 */
static int scan_digits(tp_toml_parser_t *p, const char *s, size_t n, int base, tp_toml_loc_t loc, const char *what)
{
    if (0 == n)
    {
        return perr_at(p, loc, "invalid number: missing digits in %s", what);
    }
    for (size_t i = 0; i < n; i++)
    {
        int c = (unsigned char)s[i];
        if ('_' == c)
        {
            if (0 == i || i + 1 == n || '_' == s[i + 1])
            {
                return perr_at(p, loc, "invalid number: '_' must be between two digits");
            }
            continue;
        }
        int d = hex_value(c);
        if (d < 0 || d >= base)
        {
            if (c > 0x20 && c < 0x7f)
            {
                return perr_at(p, loc, "invalid number: unexpected '%c' in %s", c, what);
            }
            return perr_at(p, loc, "invalid number: unexpected byte 0x%02x in %s", (unsigned)c, what);
        }
        char ch = (char)c;
        if (buf_put(p, &ch, 1) < 0)
        {
            return -1;
        }
    }
    return 0;
}

static int parse_integer(tp_toml_parser_t *p, const char *s, size_t n, tp_toml_loc_t loc, tp_toml_value_t *v)
{
    bool neg = false;
    bool sign = false;
    if ('+' == s[0] || '-' == s[0])
    {
        neg = '-' == s[0];
        sign = true;
        s++;
        n--;
    }
    int base = 10;
    const char *what = "decimal integer";
    if (n >= 2 && '0' == s[0] && ('x' == s[1] || 'o' == s[1] || 'b' == s[1]))
    {
        base = 'x' == s[1] ? 16 : 'o' == s[1] ? 8 : 2;
        what = 16 == base ? "hexadecimal integer" : 8 == base ? "octal integer" : "binary integer";
        if (sign)
        {
            return perr_at(p, loc, "invalid number: a %s cannot have a sign", what);
        }
        s += 2;
        n -= 2;
    }
    else if (n >= 2 && '0' == s[0])
    {
        return perr_at(p, loc, "invalid number: leading zeros are not allowed in decimal integers");
    }
    p->buf_len = 0;
    if (scan_digits(p, s, n, base, loc, what) < 0)
    {
        return -1;
    }
    uint64_t mag = 0;
    for (size_t i = 0; i < p->buf_len; i++)
    {
        uint64_t d = (uint64_t)hex_value((unsigned char)p->buf[i]);
        if (mag > (UINT64_MAX - d) / (uint64_t)base)
        {
            return perr_at(p, loc, "integer overflow: value does not fit in 64 bits");
        }
        mag = mag * (uint64_t)base + d;
    }
    v->type = TP_TOML_INTEGER;
    if (neg)
    {
        if (mag > (uint64_t)INT64_MAX + 1u)
        {
            return perr_at(p, loc, "integer overflow: value is below -9223372036854775808");
        }
        v->u.i64 = 0 == mag ? 0 : (int64_t)(-(mag - 1u)) - 1;
    }
    else if (mag > (uint64_t)INT64_MAX)
    {
        v->big = true;
        v->u.u64 = mag;
    }
    else
    {
        v->u.i64 = (int64_t)mag;
    }
    return 0;
}

static int parse_float(tp_toml_parser_t *p, const char *s, size_t n, tp_toml_loc_t loc, tp_toml_value_t *v)
{
    v->type = TP_TOML_FLOAT;
    size_t i = 0;
    bool neg = false;
    if ('+' == s[0] || '-' == s[0])
    {
        neg = '-' == s[0];
        i = 1;
    }
    if (n - i == 3 && (0 == memcmp(s + i, "inf", 3) || 0 == memcmp(s + i, "nan", 3)))
    {
        if ('i' == s[i])
        {
            v->u.f = neg ? -HUGE_VAL : HUGE_VAL;
        }
        else
        {
            v->u.f = neg ? -NAN : NAN;
        }
        return 0;
    }
    p->buf_len = 0;
    if (neg && buf_put(p, "-", 1) < 0)
    {
        return -1;
    }
    /* integer part */
    size_t j = i;
    while (j < n && (is_digit((unsigned char)s[j]) || '_' == s[j]))
    {
        j++;
    }
    if (j - i >= 2 && '0' == s[i])
    {
        return perr_at(p, loc, "invalid number: leading zeros are not allowed");
    }
    if (scan_digits(p, s + i, j - i, 10, loc, "the integer part of a float") < 0)
    {
        return -1;
    }
    bool frac_or_exp = false;
    if (j < n && '.' == s[j])
    {
        size_t k = ++j;
        while (j < n && (is_digit((unsigned char)s[j]) || '_' == s[j]))
        {
            j++;
        }
        if (buf_put(p, ".", 1) < 0 || scan_digits(p, s + k, j - k, 10, loc, "the fraction of a float") < 0)
        {
            return -1;
        }
        frac_or_exp = true;
    }
    if (j < n && ('e' == s[j] || 'E' == s[j]))
    {
        j++;
        if (buf_put(p, "e", 1) < 0)
        {
            return -1;
        }
        if (j < n && ('+' == s[j] || '-' == s[j]))
        {
            if (buf_put(p, s + j, 1) < 0)
            {
                return -1;
            }
            j++;
        }
        size_t k = j;
        while (j < n && (is_digit((unsigned char)s[j]) || '_' == s[j]))
        {
            j++;
        }
        if (scan_digits(p, s + k, j - k, 10, loc, "the exponent of a float") < 0)
        {
            return -1;
        }
        frac_or_exp = true;
    }
    if (j != n || !frac_or_exp)
    {
        return perr_at(p, loc, "invalid number '%.*s'", (int)(n > 40 ? 40 : n), s);
    }
    /* strtod honours the locale's decimal point. */
    const char *dp = localeconv()->decimal_point;
    if (NULL != dp && '.' != dp[0] && '\0' != dp[0] && '\0' == dp[1])
    {
        char *dot = strchr(p->buf, '.');
        if (NULL != dot)
        {
            *dot = dp[0];
        }
    }
    char *end = NULL;
    errno = 0;
    double d = strtod(p->buf, &end);
    if (end != p->buf + p->buf_len)
    {
        return perr_at(p, loc, "invalid number '%.*s'", (int)(n > 40 ? 40 : n), s);
    }
    if (isinf(d))
    {
        return perr_at(p, loc, "float out of range");
    }
    v->u.f = d;
    return 0;
}

static bool looks_like_date(const char *s, size_t n)
{
    if (n >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && '-' == s[4])
    {
        return true;
    }
    return n >= 3 && is_digit(s[0]) && is_digit(s[1]) && ':' == s[2];
}

static int parse_number(tp_toml_parser_t *p, tp_toml_value_t *v)
{
    tp_toml_loc_t loc = here(p);
    size_t start = p->pos;
    while (p->pos < p->len && is_number_char(p->src[p->pos]))
    {
        p->pos++;
    }
    const char *s = (const char *)p->src + start;
    size_t n = p->pos - start;
    if (0 == n)
    {
        char d[32];
        return PERR(p, "expected a value, found %s", describe(p, d, sizeof(d)));
    }
    if (looks_like_date(s, n))
    {
        return perr_at(p, loc, "dates and times are not supported (quote the value to make it a string)");
    }
    size_t i = ('+' == s[0] || '-' == s[0]) ? 1 : 0;
    if (n - i == 3 && (0 == memcmp(s + i, "inf", 3) || 0 == memcmp(s + i, "nan", 3)))
    {
        return parse_float(p, s, n, loc, v);
    }
    if (i == n || !is_digit((unsigned char)s[i]))
    {
        return perr_at(p, loc, "invalid value '%.*s' (strings must be quoted)", (int)(n > 40 ? 40 : n), s);
    }
    bool prefixed = n - i >= 2 && '0' == s[i] && ('x' == s[i + 1] || 'o' == s[i + 1] || 'b' == s[i + 1]);
    if (!prefixed && (NULL != memchr(s, '.', n) || NULL != memchr(s, 'e', n) || NULL != memchr(s, 'E', n)))
    {
        return parse_float(p, s, n, loc, v);
    }
    return parse_integer(p, s, n, loc, v);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static int parse_value(tp_toml_parser_t *p, tp_toml_value_t **out);

static int enter(tp_toml_parser_t *p)
{
    if (p->depth >= TP_TOML_MAX_DEPTH)
    {
        return PERR(p, "arrays/inline tables nested more than %d levels deep", TP_TOML_MAX_DEPTH);
    }
    p->depth++;
    return 0;
}

static int parse_array(tp_toml_parser_t *p, tp_toml_value_t *arr)
{
    tp_toml_loc_t open = here(p);
    if (enter(p) < 0)
    {
        return -1;
    }
    arr->type = TP_TOML_ARRAY;
    arr->kind = ARR_STATIC;
    p->pos++;
    for (;;)
    {
        if (skip_ws_nl(p) < 0)
        {
            return -1;
        }
        if (at_eof(p))
        {
            return perr_at(p, open, "unterminated array (missing ']')");
        }
        if (']' == cur(p))
        {
            break;
        }
        tp_toml_value_t *item = NULL;
        if (parse_value(p, &item) < 0 || array_add(p->doc, arr, item) < 0)
        {
            return -1;
        }
        if (skip_ws_nl(p) < 0)
        {
            return -1;
        }
        if (',' == cur(p))
        {
            p->pos++;
            continue;
        }
        if (']' == cur(p))
        {
            break;
        }
        if (at_eof(p))
        {
            return perr_at(p, open, "unterminated array (missing ']')");
        }
        char d[32];
        return PERR(p, "expected ',' or ']' after an array element, found %s", describe(p, d, sizeof(d)));
    }
    p->pos++;
    p->depth--;
    return 0;
}

/* `key = value` (the cursor on the key) into `table`, in an inline table and at the top level alike. */
static int parse_key_value(tp_toml_parser_t *p, tp_toml_value_t *table, uint32_t section)
{
    tp_toml_key_t key;
    if (parse_key(p, &key) < 0)
    {
        return -1;
    }
    if ('=' != cur(p))
    {
        char d[32];
        char kt[128];
        return PERR(p, "expected '=' after key '%s', found %s", key_text(NULL, &key, key.n, kt, sizeof(kt)),
            describe(p, d, sizeof(d)));
    }
    p->pos++;
    skip_ws(p);
    tp_toml_value_t *val = NULL;
    if (parse_value(p, &val) < 0 || insert_kv(p, table, &key, val, section) < 0)
    {
        return -1;
    }
    return 0;
}

static int parse_inline_table(tp_toml_parser_t *p, tp_toml_value_t *tbl)
{
    tp_toml_loc_t open = here(p);
    if (enter(p) < 0)
    {
        return -1;
    }
    tbl->type = TP_TOML_TABLE;
    tbl->kind = TBL_INLINE;
    const uint32_t section = p->next_section++;
    p->pos++;
    skip_ws(p);
    if ('}' == cur(p))
    {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;)
    {
        skip_ws(p);
        if (newline_len(p) > 0)
        {
            return PERR(p, "newline inside an inline table (inline tables must be on one line)");
        }
        if (at_eof(p))
        {
            return perr_at(p, open, "unterminated inline table (missing '}')");
        }
        if (parse_key_value(p, tbl, section) < 0)
        {
            return -1;
        }
        skip_ws(p);
        if (',' == cur(p))
        {
            p->pos++;
            skip_ws(p);
            if ('}' == cur(p))
            {
                return PERR(p, "trailing comma is not allowed in an inline table");
            }
            continue;
        }
        if ('}' == cur(p))
        {
            break;
        }
        if (newline_len(p) > 0)
        {
            return PERR(p, "newline inside an inline table (inline tables must be on one line)");
        }
        if (at_eof(p))
        {
            return perr_at(p, open, "unterminated inline table (missing '}')");
        }
        char d[32];
        return PERR(p, "expected ',' or '}' in an inline table, found %s", describe(p, d, sizeof(d)));
    }
    p->pos++;
    p->depth--;
    return 0;
}

static bool match_word(const tp_toml_parser_t *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || 0 != memcmp(p->src + p->pos, word, n))
    {
        return false;
    }
    return !(p->pos + n < p->len && is_number_char(p->src[p->pos + n]));
}

static int parse_value(tp_toml_parser_t *p, tp_toml_value_t **out)
{
    tp_toml_loc_t loc = here(p);
    tp_toml_value_t *v = value_new(p->doc, TP_TOML_BOOL, loc.line);
    if (NULL == v)
    {
        return -1;
    }
    *out = v;
    int c = cur(p);
    if ('"' == c || '\'' == c)
    {
        if (parse_string(p, true) < 0)
        {
            return -1;
        }
        v->type = TP_TOML_STRING;
        v->u.str.len = p->buf_len;
        v->u.str.s = arena_strdup(p->doc, p->buf, p->buf_len);
        return NULL == v->u.str.s ? -1 : 0;
    }
    if ('[' == c)
    {
        return parse_array(p, v);
    }
    if ('{' == c)
    {
        return parse_inline_table(p, v);
    }
    if (match_word(p, "true") || match_word(p, "false"))
    {
        v->u.b = 't' == c;
        p->pos += v->u.b ? 4 : 5;
        return 0;
    }
    if (c < 0 || newline_len(p) > 0 || '#' == c)
    {
        return PERR(p, "missing value");
    }
    if (is_number_char(c))
    {
        return parse_number(p, v);
    }
    char d[32];
    return PERR(p, "expected a value, found %s", describe(p, d, sizeof(d)));
}

/* ------------------------------------------------------------------------ */
/* Headers and the document                                                 */
/* ------------------------------------------------------------------------ */

static int parse_header(tp_toml_parser_t *p, tp_toml_value_t **table)
{
    tp_toml_loc_t open = here(p);
    bool aot = '[' == peek(p, 1);
    p->pos += aot ? 2 : 1;
    tp_toml_key_t key;
    if (parse_key(p, &key) < 0)
    {
        return -1;
    }
    if (']' != cur(p) || (aot && ']' != peek(p, 1)))
    {
        char d[32];
        if (']' == cur(p))
        {
            p->pos++;
        }
        return PERR(p, "expected '%s' to close the table header, found %s", aot ? "]]" : "]",
            describe(p, d, sizeof(d)));
    }
    p->pos += aot ? 2 : 1;

    char path[256];
#define KT key_text(p->doc->root, &key, i + 1, path, sizeof(path))
    tp_toml_value_t *t = p->doc->root;
    for (size_t i = 0; i < key.n; i++)
    {
        const bool last = i + 1 == key.n;
        tp_toml_entry_t *e = table_find(t, key.parts[i]);
        if (NULL == e)
        {
            tp_toml_value_t *nt = value_new(p->doc, TP_TOML_TABLE, open.line);
            if (NULL == nt)
            {
                return -1;
            }
            nt->kind = last ? TBL_HEADER : TBL_IMPLICIT;
            tp_toml_value_t *slot = nt;
            if (last && aot)
            {
                slot = value_new(p->doc, TP_TOML_ARRAY, open.line);
                if (NULL == slot)
                {
                    return -1;
                }
                slot->kind = ARR_TABLES;
                if (array_add(p->doc, slot, nt) < 0)
                {
                    return -1;
                }
            }
            if (table_add(p->doc, t, key.parts[i], slot) < 0)
            {
                return -1;
            }
            t = nt;
            continue;
        }
        tp_toml_value_t *v = e->val;
        if (!last)
        {
            if (TP_TOML_TABLE == v->type && TBL_INLINE != v->kind)
            {
                t = v;
                continue;
            }
            if (TP_TOML_ARRAY == v->type && ARR_TABLES == v->kind)
            {
                t = v->u.arr.items[v->u.arr.n - 1];
                continue;
            }
            return perr_at(p, key.locs[i], "cannot define table below '%s': it is already %s (line %" PRIu32 ")",
                KT, what_is(v), v->line);
        }
        if (aot)
        {
            if (TP_TOML_ARRAY != v->type || ARR_TABLES != v->kind)
            {
                return perr_at(p, key.locs[i],
                    "cannot define array of tables '%s': it is already %s (line %" PRIu32 ")", KT, what_is(v),
                    v->line);
            }
            tp_toml_value_t *nt = value_new(p->doc, TP_TOML_TABLE, open.line);
            if (NULL == nt)
            {
                return -1;
            }
            nt->kind = TBL_HEADER;
            if (array_add(p->doc, v, nt) < 0)
            {
                return -1;
            }
            t = nt;
            continue;
        }
        if (TP_TOML_TABLE == v->type && TBL_IMPLICIT == v->kind)
        {
            v->kind = TBL_HEADER;
            v->line = open.line;
            t = v;
            continue;
        }
        if (TP_TOML_TABLE == v->type && TBL_INLINE != v->kind)
        {
            return perr_at(p, key.locs[i], "table '%s' is already defined (line %" PRIu32 ")", KT, v->line);
        }
        return perr_at(p, key.locs[i], "cannot define table '%s': it is already %s (line %" PRIu32 ")", KT,
            what_is(v), v->line);
    }
#undef KT
    *table = t;
    return 0;
}

static int parse_document(tp_toml_parser_t *p)
{
    tp_toml_value_t *table = p->doc->root;
    uint32_t section = 0;
    p->next_section = 1;
    if (p->len >= 3 && 0 == memcmp(p->src, "\xef\xbb\xbf", 3))
    {
        p->pos = 3; /* UTF-8 byte order mark */
        p->line_start = 3;
    }
    for (;;)
    {
        skip_ws(p);
        if (at_eof(p))
        {
            return 0;
        }
        size_t nl = newline_len(p);
        if (nl > 0)
        {
            consume_newline(p, nl);
            continue;
        }
        const char *after;
        if ('#' == cur(p))
        {
            if (skip_comment(p) < 0)
            {
                return -1;
            }
            continue;
        }
        if ('[' == cur(p))
        {
            if (parse_header(p, &table) < 0)
            {
                return -1;
            }
            section = p->next_section++;
            after = "a table header";
        }
        else
        {
            if (parse_key_value(p, table, section) < 0)
            {
                return -1;
            }
            after = "a value";
        }
        skip_ws(p);
        if ('#' == cur(p) && skip_comment(p) < 0)
        {
            return -1;
        }
        nl = newline_len(p);
        if (nl > 0)
        {
            consume_newline(p, nl);
        }
        else if (!at_eof(p))
        {
            char d[32];
            return PERR(p, "unexpected %s after %s (expected a newline or a comment)", describe(p, d, sizeof(d)),
                after);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Public: parse / free                                                     */
/* ------------------------------------------------------------------------ */

void tp_toml_free(tp_toml_t *doc)
{
    if (NULL == doc)
    {
        return;
    }
    tp_toml_block_t *b = doc->blocks;
    while (NULL != b)
    {
        tp_toml_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

int tp_toml_parse_string(const char *text, size_t len, const char *name, tp_toml_t **out)
{
    if (NULL == out || (NULL == text && len > 0))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_toml_parse_string: NULL argument");
    }
    if (NULL == name)
    {
        name = "<string>";
    }
    if (len > TP_TOML_MAX_BYTES)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: file is too large (%zu bytes; the limit is %u bytes)", name, len,
            TP_TOML_MAX_BYTES);
    }
    tp_toml_t *doc = calloc(1, sizeof(*doc));
    if (NULL == doc)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "TOML reader: out of memory");
    }
    tp_toml_parser_t p;
    memset(&p, 0, sizeof(p));
    p.doc = doc;
    p.src = (const unsigned char *)(NULL == text ? "" : text);
    p.len = len;
    p.line = 1;
    int rc = -1;
    doc->name = arena_strdup(doc, name, strlen(name));
    if (NULL != doc->name)
    {
        p.name = doc->name;
        doc->root = value_new(doc, TP_TOML_TABLE, 1);
        if (NULL != doc->root)
        {
            doc->root->kind = TBL_ROOT;
            rc = validate_input(&p);
            if (0 == rc)
            {
                rc = parse_document(&p);
            }
        }
    }
    free(p.buf);
    if (rc < 0)
    {
        tp_toml_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

int tp_toml_parse_file(const char *path, tp_toml_t **out)
{
    if (NULL == path || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_toml_parse_file: NULL argument");
    }
    FILE *f = fopen(path, "rb");
    if (NULL == f)
    {
        return tp_err_set_errno(errno, "cannot open config file '%s'", path);
    }
    size_t cap = TP_TOML_MAX_BYTES + 1;
    char *data = malloc(cap);
    if (NULL == data)
    {
        fclose(f);
        return tp_err_set(TP_ERR_NO_MEMORY, "TOML reader: out of memory");
    }
    errno = 0;
    size_t n = fread(data, 1, cap, f);
    int err = ferror(f) ? (0 != errno ? errno : EIO) : 0;
    fclose(f);
    int rc;
    if (0 != err)
    {
        rc = tp_err_set_errno(err, "cannot read config file '%s'", path);
    }
    else if (n > TP_TOML_MAX_BYTES)
    {
        rc = tp_err_set(TP_ERR_CONFIG, "%s: file is too large (more than %u bytes)", path, TP_TOML_MAX_BYTES);
    }
    else
    {
        rc = tp_toml_parse_string(data, n, path, out);
    }
    free(data);
    return rc;
}

const char *tp_toml_name(const tp_toml_t *doc)
{
    return NULL == doc ? "" : doc->name;
}

const tp_toml_value_t *tp_toml_root(const tp_toml_t *doc)
{
    return NULL == doc ? NULL : doc->root;
}

/* ------------------------------------------------------------------------ */
/* Public: tree access                                                      */
/* ------------------------------------------------------------------------ */

tp_toml_type_t tp_toml_type(const tp_toml_value_t *v)
{
    return v->type;
}

const char *tp_toml_type_name(tp_toml_type_t type)
{
    switch (type)
    {
        case TP_TOML_TABLE: return "table";
        case TP_TOML_ARRAY: return "array";
        case TP_TOML_STRING: return "string";
        case TP_TOML_INTEGER: return "integer";
        case TP_TOML_FLOAT: return "float";
        case TP_TOML_BOOL: return "boolean";
        default: return "unknown";
    }
}

uint32_t tp_toml_value_line(const tp_toml_value_t *v)
{
    return NULL == v ? 0 : v->line;
}

size_t tp_toml_table_size(const tp_toml_value_t *table)
{
    return (NULL == table || TP_TOML_TABLE != table->type) ? 0 : table->u.tab.n;
}

const char *tp_toml_table_key(const tp_toml_value_t *table, size_t index)
{
    return index < tp_toml_table_size(table) ? table->u.tab.entries[index].key : NULL;
}

const tp_toml_value_t *tp_toml_table_value(const tp_toml_value_t *table, size_t index)
{
    return index < tp_toml_table_size(table) ? table->u.tab.entries[index].val : NULL;
}

const tp_toml_value_t *tp_toml_table_get(const tp_toml_value_t *table, const char *key)
{
    if (NULL == table || NULL == key || TP_TOML_TABLE != table->type)
    {
        return NULL;
    }
    const tp_toml_entry_t *e = table_find(table, key);
    return NULL == e ? NULL : e->val;
}

const tp_toml_value_t *tp_toml_lookup(const tp_toml_value_t *table, const char *path)
{
    if (NULL == path)
    {
        return NULL;
    }
    const tp_toml_value_t *v = table;
    const char *s = path;
    char part[256];
    for (;;)
    {
        const char *dot = strchr(s, '.');
        if (NULL == dot)
        {
            return tp_toml_table_get(v, s);
        }
        /* Components of any length: keys have no length limit (a long one must not read as missing). */
        size_t n = (size_t)(dot - s);
        char *key = n < sizeof(part) ? part : malloc(n + 1);
        if (NULL == key)
        {
            return NULL;
        }
        memcpy(key, s, n);
        key[n] = '\0';
        v = tp_toml_table_get(v, key);
        if (key != part)
        {
            free(key);
        }
        if (NULL == v)
        {
            return NULL;
        }
        s = dot + 1;
    }
}

size_t tp_toml_array_size(const tp_toml_value_t *array)
{
    return (NULL == array || TP_TOML_ARRAY != array->type) ? 0 : array->u.arr.n;
}

const tp_toml_value_t *tp_toml_array_at(const tp_toml_value_t *array, size_t index)
{
    return index < tp_toml_array_size(array) ? array->u.arr.items[index] : NULL;
}

const char *tp_toml_string(const tp_toml_value_t *v)
{
    return (NULL == v || TP_TOML_STRING != v->type) ? NULL : v->u.str.s;
}

size_t tp_toml_string_len(const tp_toml_value_t *v)
{
    return (NULL == v || TP_TOML_STRING != v->type) ? 0 : v->u.str.len;
}

bool tp_toml_bool(const tp_toml_value_t *v)
{
    return NULL != v && TP_TOML_BOOL == v->type && v->u.b;
}

double tp_toml_double(const tp_toml_value_t *v)
{
    if (NULL == v)
    {
        return 0.0;
    }
    if (TP_TOML_FLOAT == v->type)
    {
        return v->u.f;
    }
    if (TP_TOML_INTEGER == v->type)
    {
        return v->big ? (double)v->u.u64 : (double)v->u.i64;
    }
    return 0.0;
}

int tp_toml_integer_i64(const tp_toml_value_t *v, int64_t *out)
{
    if (NULL == v || TP_TOML_INTEGER != v->type)
    {
        return tp_err_set(TP_ERR_CONFIG, "value is not an integer");
    }
    if (v->big)
    {
        return tp_err_set(TP_ERR_CONFIG, "integer %" PRIu64 " does not fit in int64", v->u.u64);
    }
    *out = v->u.i64;
    return 0;
}

int tp_toml_integer_u64(const tp_toml_value_t *v, uint64_t *out)
{
    if (NULL == v || TP_TOML_INTEGER != v->type)
    {
        return tp_err_set(TP_ERR_CONFIG, "value is not an integer");
    }
    if (!v->big && v->u.i64 < 0)
    {
        return tp_err_set(TP_ERR_CONFIG, "integer %" PRId64 " is negative", v->u.i64);
    }
    *out = v->big ? v->u.u64 : (uint64_t)v->u.i64;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Public: environment                                                      */
/* ------------------------------------------------------------------------ */

int tp_toml_env_override_name(const char *key_path, char *buf, size_t len)
{
    if (NULL == key_path || NULL == buf || 0 == len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_toml_env_override_name: NULL argument");
    }
    size_t n = strlen(key_path);
    if (0 == n || n + 1 > len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "key path '%s' is empty or too long for an override name",
            key_path);
    }
    for (size_t i = 0; i < n; i++)
    {
        char c = key_path[i];
        if (c >= 'a' && c <= 'z')
        {
            buf[i] = (char)(c - 'a' + 'A');
        }
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || '_' == c)
        {
            buf[i] = c;
        }
        else if ('.' == c || '-' == c)
        {
            buf[i] = '_';
        }
        else
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "key path '%s' has no environment override name", key_path);
        }
    }
    buf[n] = '\0';
    return 0;
}

void tp_toml_set_env(tp_toml_t *doc, tp_toml_env_fn_t fn, void *clientd)
{
    doc->env_fn = fn;
    doc->env_clientd = clientd;
}

const char *tp_toml_env_getenv(void *clientd, const char *name)
{
    (void)clientd;
    return getenv(name);
}

/* ------------------------------------------------------------------------ */
/* Public: typed getters                                                    */
/* ------------------------------------------------------------------------ */

#define FULL_PATH_MAX 512

typedef struct tp_toml_get_stct
{
    const tp_toml_value_t *table;
    const tp_toml_value_t *v; /* value in the file, NULL when absent */
    const char *env;          /* override value, NULL when none */
    char env_name[FULL_PATH_MAX];
    char full[FULL_PATH_MAX];
} tp_toml_get_t;

static int get_begin(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, tp_toml_get_t *g)
{
    if (NULL == doc || NULL == path)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TOML getter: NULL argument");
    }
    g->table = NULL == table ? doc->root : table;
    if (TP_TOML_TABLE != g->table->type)
    {
        return tp_toml_value_error(doc, g->table, "expected a table (looking up '%s'), got %s", path,
            what_is(g->table));
    }
    size_t pos = tp_toml_value_path(g->table, g->full, sizeof(g->full));
    if (pos > 0)
    {
        path_put(g->full, sizeof(g->full), &pos, ".", 1);
    }
    path_put(g->full, sizeof(g->full), &pos, path, strlen(path));
    g->full[pos < sizeof(g->full) ? pos : sizeof(g->full) - 1] = '\0';
    g->v = tp_toml_lookup(g->table, path);
    g->env = NULL;
    g->env_name[0] = '\0';
    if (NULL != doc->env_fn)
    {
        int saved = tp_errcode();
        char saved_msg[TP_ERRMSG_MAX];
        snprintf(saved_msg, sizeof(saved_msg), "%s", tp_errmsg());
        if (0 == tp_toml_env_override_name(g->full, g->env_name, sizeof(g->env_name)))
        {
            const char *e = doc->env_fn(doc->env_clientd, g->env_name);
            if (NULL != e)
            {
                g->env = arena_strdup(doc, e, strlen(e));
                if (NULL == g->env)
                {
                    return -1;
                }
            }
        }
        else
        {
            /* No override for this key: restore the caller's error state. */
            if (TP_OK == saved)
            {
                tp_err_clear();
            }
            else
            {
                tp_err_set(saved, "%s", saved_msg);
            }
        }
    }
    return 0;
}

/* "name:line: full: message" about the file value (or the table when absent). */
static int get_error(const tp_toml_t *doc, const tp_toml_get_t *g, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int get_error(const tp_toml_t *doc, const tp_toml_get_t *g, const char *fmt, ...)
{
    char msg[TP_ERRMSG_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);
    if (NULL != g->env)
    {
        return tp_err_set(TP_ERR_CONFIG, "environment %s=\"%s\": %s: %s", g->env_name, g->env, g->full, msg);
    }
    const tp_toml_value_t *at = NULL != g->v ? g->v : g->table;
    return tp_err_set(TP_ERR_CONFIG, "%s:%" PRIu32 ": %s: %s", doc->name, at->line, g->full, msg);
}

static const char *got_type(const tp_toml_value_t *v)
{
    return what_is(v);
}

/* Parse an override string as a TOML integer or float into a scratch value. */
static int env_number(tp_toml_t *doc, const char *text, bool want_float, tp_toml_value_t *out)
{
    tp_toml_parser_t p;
    memset(&p, 0, sizeof(p));
    p.doc = doc;
    p.name = "environment";
    p.src = (const unsigned char *)text;
    p.len = strlen(text);
    p.line = 1;
    memset(out, 0, sizeof(*out));
    int rc = -1;
    if (p.len > 0 && is_number_char((unsigned char)text[0]))
    {
        rc = parse_number(&p, out);
        if (0 == rc && !at_eof(&p))
        {
            rc = -1;
        }
    }
    if (0 == rc && !want_float && TP_TOML_INTEGER != out->type)
    {
        rc = -1;
    }
    free(p.buf);
    return rc;
}

/* What a scalar getter wants: the one lookup + override + type-check path below serves them all. */
typedef enum tp_toml_want_en
{
    WANT_INTEGER, /* TOML integer within [min, max] */
    WANT_NUMBER,  /* integer or float, read as double */
    WANT_BOOL,
    WANT_STRING
} tp_toml_want_t;

/* The value a scalar getter found (present == false: absent, the wrapper uses its default). */
typedef struct tp_toml_scalar_stct
{
    bool present;
    int64_t i;    /* WANT_INTEGER within int64 */
    uint64_t u;   /* WANT_INTEGER, non-negative */
    double d;     /* WANT_NUMBER */
    bool b;       /* WANT_BOOL */
    const char *s; /* WANT_STRING */
} tp_toml_scalar_t;

/* Environment override text -> a scratch TOML value of the wanted kind; -1 when it does not parse as one. */
static int get_env_value(tp_toml_t *doc, const char *env, tp_toml_want_t want, tp_toml_value_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (want)
    {
        case WANT_INTEGER: return env_number(doc, env, false, out);
        case WANT_NUMBER: return env_number(doc, env, true, out);
        case WANT_BOOL:
            out->type = TP_TOML_BOOL;
            if (0 == strcmp(env, "true") || 0 == strcmp(env, "1"))
            {
                out->u.b = true;
                return 0;
            }
            if (0 == strcmp(env, "false") || 0 == strcmp(env, "0"))
            {
                out->u.b = false;
                return 0;
            }
            return -1;
        case WANT_STRING:
        default:
            out->type = TP_TOML_STRING;
            out->u.str.s = (char *)env; /* arena copy made by get_begin; lives as long as doc */
            return 0;
    }
}

/*
 * The shared path of every scalar getter: look the key up (with its
 * environment override), convert an override to the wanted kind, check the
 * type (and the range for integers), and report errors in one format.
 */
static int get_scalar(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, tp_toml_want_t want,
    int64_t min, uint64_t max, tp_toml_scalar_t *out)
{
    tp_toml_get_t g;
    memset(out, 0, sizeof(*out));
    if (get_begin(doc, table, path, &g) < 0)
    {
        return -1;
    }
    char range[64] = "";
    if (WANT_INTEGER == want)
    {
        snprintf(range, sizeof(range), "%" PRId64 "..%" PRIu64, min, max);
    }
    tp_toml_value_t envv;
    const tp_toml_value_t *v = g.v;
    if (NULL != g.env)
    {
        if (get_env_value(doc, g.env, want, &envv) < 0)
        {
            switch (want)
            {
                case WANT_INTEGER: return get_error(doc, &g, "expected an integer in %s", range);
                case WANT_NUMBER: return get_error(doc, &g, "expected a number");
                default: return get_error(doc, &g, "expected a boolean (true, false, 1 or 0)");
            }
        }
        v = &envv;
    }
    if (NULL == v)
    {
        return 0;
    }
    switch (want)
    {
        case WANT_INTEGER:
            if (TP_TOML_INTEGER != v->type)
            {
                return get_error(doc, &g, "expected an integer in %s, got %s", range, got_type(v));
            }
            if (v->big)
            {
                if (v->u.u64 > max)
                {
                    return get_error(doc, &g, "expected an integer in %s, got %" PRIu64, range, v->u.u64);
                }
                out->u = v->u.u64;
                break;
            }
            if (v->u.i64 < min || (v->u.i64 >= 0 && (uint64_t)v->u.i64 > max))
            {
                return get_error(doc, &g, "expected an integer in %s, got %" PRId64, range, v->u.i64);
            }
            out->i = v->u.i64;
            out->u = (uint64_t)v->u.i64;
            break;
        case WANT_NUMBER:
            if (TP_TOML_FLOAT != v->type && TP_TOML_INTEGER != v->type)
            {
                return get_error(doc, &g, "expected a number, got %s", got_type(v));
            }
            out->d = tp_toml_double(v);
            break;
        case WANT_BOOL:
            if (TP_TOML_BOOL != v->type)
            {
                return get_error(doc, &g, "expected a boolean (true or false), got %s", got_type(v));
            }
            out->b = v->u.b;
            break;
        case WANT_STRING:
        default:
            if (TP_TOML_STRING != v->type)
            {
                return get_error(doc, &g, "expected a string, got %s", got_type(v));
            }
            out->s = v->u.str.s;
            break;
    }
    out->present = true;
    return 0;
}

/* Thin typed wrappers: pick the kind and range, apply the default when absent. */
#define TP_TOML_SCALAR_GETTER(NAME, T, WANT, MIN, MAX, FIELD)                                                \
    int NAME(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, T *out, T dflt)                  \
    {                                                                                                        \
        tp_toml_scalar_t v;                                                                                  \
        if (get_scalar(doc, table, path, WANT, MIN, MAX, &v) < 0)                                            \
        {                                                                                                    \
            return -1;                                                                                       \
        }                                                                                                    \
        *out = v.present ? (T)v.FIELD : dflt;                                                                \
        return 0;                                                                                            \
    }

TP_TOML_SCALAR_GETTER(tp_toml_get_u16, uint16_t, WANT_INTEGER, 0, UINT16_MAX, u)
TP_TOML_SCALAR_GETTER(tp_toml_get_u32, uint32_t, WANT_INTEGER, 0, UINT32_MAX, u)
TP_TOML_SCALAR_GETTER(tp_toml_get_u64, uint64_t, WANT_INTEGER, 0, UINT64_MAX, u)
TP_TOML_SCALAR_GETTER(tp_toml_get_i64, int64_t, WANT_INTEGER, INT64_MIN, INT64_MAX, i)
TP_TOML_SCALAR_GETTER(tp_toml_get_double, double, WANT_NUMBER, 0, 0, d)
TP_TOML_SCALAR_GETTER(tp_toml_get_bool, bool, WANT_BOOL, 0, 0, b)
TP_TOML_SCALAR_GETTER(tp_toml_get_string, const char *, WANT_STRING, 0, 0, s)

#undef TP_TOML_SCALAR_GETTER

static int get_container(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, tp_toml_type_t type,
    const tp_toml_value_t **out)
{
    tp_toml_get_t g;
    if (get_begin(doc, table, path, &g) < 0)
    {
        return -1;
    }
    g.env = NULL; /* containers have no override */
    if (NULL != g.v && type != g.v->type)
    {
        return get_error(doc, &g, "expected %s, got %s", TP_TOML_TABLE == type ? "a table" : "an array",
            got_type(g.v));
    }
    *out = g.v;
    return 0;
}

int tp_toml_get_table(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, const tp_toml_value_t **out)
{
    return get_container(doc, table, path, TP_TOML_TABLE, out);
}

int tp_toml_get_array(tp_toml_t *doc, const tp_toml_value_t *table, const char *path, const tp_toml_value_t **out)
{
    return get_container(doc, table, path, TP_TOML_ARRAY, out);
}

int tp_toml_require(tp_toml_t *doc, const tp_toml_value_t *table, const char *path)
{
    tp_toml_get_t g;
    if (get_begin(doc, table, path, &g) < 0)
    {
        return -1;
    }
    if (NULL != g.v || NULL != g.env)
    {
        return 0;
    }
    return get_error(doc, &g, "required key is missing");
}

int tp_toml_check_keys(const tp_toml_t *doc, const tp_toml_value_t *table, const char *const *allowed, size_t n,
    const char *table_path)
{
    if (NULL == doc || NULL == table)
    {
        return 0;
    }
    if (TP_TOML_TABLE != table->type)
    {
        return tp_toml_value_error(doc, table, "expected a table, got %s", what_is(table));
    }
    char tpath[FULL_PATH_MAX];
    if (NULL == table_path)
    {
        tp_toml_value_path(table, tpath, sizeof(tpath));
        table_path = tpath;
    }
    for (size_t i = 0; i < table->u.tab.n; i++)
    {
        const tp_toml_entry_t *e = &table->u.tab.entries[i];
        bool ok = false;
        for (size_t k = 0; k < n && !ok; k++)
        {
            ok = 0 == strcmp(allowed[k], e->key);
        }
        if (ok)
        {
            continue;
        }
        char list[256];
        size_t pos = 0;
        for (size_t k = 0; k < n; k++)
        {
            if (k > 0)
            {
                path_put(list, sizeof(list), &pos, ", ", 2);
            }
            path_put(list, sizeof(list), &pos, allowed[k], strlen(allowed[k]));
        }
        list[pos < sizeof(list) ? pos : sizeof(list) - 1] = '\0';
        char key[FULL_PATH_MAX];
        size_t kp = 0;
        path_put_key(key, sizeof(key), &kp, e->key);
        key[kp < sizeof(key) ? kp : sizeof(key) - 1] = '\0';
        return tp_err_set(TP_ERR_CONFIG, "%s:%" PRIu32 ": unknown key '%s%s%s' (allowed keys: %s)", doc->name,
            e->val->line, table_path, '\0' == table_path[0] ? "" : ".", key, 0 == n ? "none" : list);
    }
    return 0;
}

int tp_toml_value_error(const tp_toml_t *doc, const tp_toml_value_t *v, const char *fmt, ...)
{
    char msg[TP_ERRMSG_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);
    char path[FULL_PATH_MAX];
    tp_toml_value_path(v, path, sizeof(path));
    return tp_err_set(TP_ERR_CONFIG, "%s:%" PRIu32 ": %s%s%s", NULL == doc ? "" : doc->name, tp_toml_value_line(v),
        path, '\0' == path[0] ? "" : ": ", msg);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

void tp_toml_out_init(tp_toml_out_t *o, char *buf, size_t len)
{
    o->buf = buf;
    o->len = len;
    o->used = 0;
    if (NULL != buf && len > 0)
    {
        buf[0] = '\0';
    }
}

void tp_toml_outf(tp_toml_out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->used < o->len ? o->len - o->used : 0;
    int n = vsnprintf(NULL == o->buf ? NULL : o->buf + (o->used < o->len ? o->used : 0), room, fmt, ap);
    va_end(ap);
    if (n > 0)
    {
        o->used += (size_t)n;
    }
}

void tp_toml_out_string(tp_toml_out_t *o, const char *v)
{
    tp_toml_outf(o, "\"");
    for (const unsigned char *p = (const unsigned char *)v; '\0' != *p; p++)
    {
        switch (*p)
        {
            case '"': tp_toml_outf(o, "\\\""); break;
            case '\\': tp_toml_outf(o, "\\\\"); break;
            case '\b': tp_toml_outf(o, "\\b"); break;
            case '\t': tp_toml_outf(o, "\\t"); break;
            case '\n': tp_toml_outf(o, "\\n"); break;
            case '\f': tp_toml_outf(o, "\\f"); break;
            case '\r': tp_toml_outf(o, "\\r"); break;
            default:
                if (*p < 0x20 || 0x7f == *p)
                {
                    tp_toml_outf(o, "\\u%04X", (unsigned)*p);
                }
                else
                {
                    tp_toml_outf(o, "%c", (char)*p);
                }
        }
    }
    tp_toml_outf(o, "\"");
}

void tp_toml_out_kv_string(tp_toml_out_t *o, const char *key, const char *v)
{
    tp_toml_outf(o, "%s = ", key);
    tp_toml_out_string(o, v);
    tp_toml_outf(o, "\n");
}
