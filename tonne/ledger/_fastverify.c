/* The compiled path of `tonne ledger verify` (optional; tonne/ledger/verify.py
 * has the pure-Python reference and falls back to it).
 *
 * One pass over the entries, in seq order: the seq sequence, each leaf hash
 * recomputed from the body (SHA-256 by OpenSSL, in this process, never by
 * the database), the prev-hash chain, the Merkle root at every checkpoint
 * size, each body parsed and checked against its position, and the entry
 * replayed into the holdings.
 *
 * It only has to *accept* exactly the ledgers the reference accepts. It is
 * strict: anything unusual (a JSON shape, escape or number the reference
 * would read differently, or any divergence) makes it give up, and the caller
 * then runs the reference verifier, which names the first divergence. So:
 * whenever this accepts, the reference would have accepted with the same
 * holdings; whenever it refuses, the reference decides.
 *
 * Input: PostgreSQL's binary COPY stream of
 *   (seq bigint, kind text, body bytea, prev_hash text, leaf_hash text)
 * fed in arbitrary chunks (feed_copy), or rows one by one (feed_row). */

#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LIMIT ((int64_t)1 << 60) /* serials and quantities beyond this: give up */
#define MAX_DEPTH 64

/* ---------------------------------------------------------------- accounts */

typedef struct {
    char *name;
    Py_ssize_t len;
    int terminal; /* 0 or 1 */
} Account;

typedef struct {
    int64_t start, end;
    int32_t holder;
} Block;

typedef struct {
    int64_t start, end, vintage;
    PyObject *project, *unit_class; /* str */
    Block *blocks;
    Py_ssize_t n, cap;
} Issuance;

#define MAX_PENDING 4096

struct Pending {
    int64_t seq;
    unsigned char *data; /* kind, body, prev, leaf, one after the other */
    Py_ssize_t len[4];
};

typedef struct {
    PyObject_HEAD
    /* chain */
    int64_t expected;
    char prev_hex[64];
    unsigned char stack[64][32];
    int depth;
    int64_t *cp_sizes;
    Py_ssize_t n_cp, next_cp;
    PyObject *roots; /* dict: size -> root bytes */
    /* copy stream */
    unsigned char *buf;
    size_t len, cap, pos;
    int header_done, trailer_seen;
    /* replay */
    Account *accounts;
    Py_ssize_t n_accounts, cap_accounts;
    int32_t *table; /* open addressing: account index + 1, 0 = empty */
    size_t table_size;
    Issuance *issuances;
    Py_ssize_t n_issuances, cap_issuances;
    /* outcome */
    /* rows that arrived ahead of their turn (read in stored order) */
    struct Pending *pending;
    Py_ssize_t n_pending;
    int failed, disorder;
    char reason[160];
} Verifier;

static int fail(Verifier *v, const char *reason) {
    if (!v->failed) {
        v->failed = 1;
        snprintf(v->reason, sizeof v->reason, "%s (entry %lld)", reason, (long long)v->expected);
    }
    return -1;
}

static uint64_t hash_bytes(const char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int32_t find_account(Verifier *v, const char *s, Py_ssize_t n) {
    if (!v->table_size) return -1;
    size_t mask = v->table_size - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        int32_t slot = v->table[i];
        if (!slot) return -1;
        Account *a = &v->accounts[slot - 1];
        if (a->len == n && memcmp(a->name, s, n) == 0) return slot - 1;
    }
}

static int table_put(Verifier *v, int32_t index) {
    size_t mask = v->table_size - 1;
    Account *a = &v->accounts[index];
    size_t i = hash_bytes(a->name, a->len) & mask;
    while (v->table[i]) i = (i + 1) & mask;
    v->table[i] = index + 1;
    return 0;
}

static int32_t open_account(Verifier *v, const char *s, Py_ssize_t n) {
    int32_t found = find_account(v, s, n);
    if (found >= 0) return found;
    if (v->n_accounts == v->cap_accounts) {
        Py_ssize_t cap = v->cap_accounts ? v->cap_accounts * 2 : 64;
        Account *grown = PyMem_Realloc(v->accounts, cap * sizeof(Account));
        if (!grown) return -1;
        v->accounts = grown;
        v->cap_accounts = cap;
    }
    if ((size_t)(v->n_accounts + 1) * 2 > v->table_size) {
        size_t size = v->table_size ? v->table_size * 2 : 256;
        while ((size_t)(v->n_accounts + 1) * 2 > size) size *= 2;
        int32_t *table = PyMem_Calloc(size, sizeof(int32_t));
        if (!table) return -1;
        PyMem_Free(v->table);
        v->table = table;
        v->table_size = size;
        for (int32_t i = 0; i < v->n_accounts; i++) table_put(v, i);
    }
    char *name = PyMem_Malloc(n ? n : 1);
    if (!name) return -1;
    memcpy(name, s, n);
    int32_t index = (int32_t)v->n_accounts++;
    v->accounts[index].name = name;
    v->accounts[index].len = n;
    v->accounts[index].terminal = 0;
    table_put(v, index);
    return index;
}

/* ---------------------------------------------------------------- JSON
 * A strict reader: valid JSON only (what orjson would load), and within it
 * only what the reference reads the same way. Returns 0 on success, -1 to
 * give up. */

typedef struct {
    const unsigned char *p, *end;
} Cur;

typedef struct {
    const char *s;
    Py_ssize_t n;
    int escaped;
} Str;

static void ws(Cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int hexval(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A string at c->p (which is '"'); its raw content in *out. */
static int read_string(Cur *c, Str *out) {
    const unsigned char *p = c->p + 1, *end = c->end;
    int escaped = 0;
    out->s = (const char *)p;
    while (p < end) {
#ifdef __SSE2__
        /* 16 plain bytes at a time: no quote, backslash, control or non-ASCII byte */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))); /* signed: also every byte >= 0x80 */
            int mask = _mm_movemask_epi8(special);
            if (mask) {
                p += __builtin_ctz(mask);
                break;
            }
            p += 16;
        }
        if (p >= end) break;
#endif
        unsigned char ch = *p;
        if (ch == '"') {
            out->n = (const char *)p - out->s;
            out->escaped = escaped;
            c->p = p + 1;
            return 0;
        }
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            escaped = 1;
            if (p + 1 >= end) return -1;
            unsigned char e = p[1];
            if (e == 'u') {
                if (p + 6 > end) return -1;
                int code = 0;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0) return -1;
                    code = code * 16 + h;
                }
                if (code >= 0xD800 && code <= 0xDFFF) return -1; /* surrogates: let the reference judge */
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                p += 2;
            } else {
                return -1;
            }
            continue;
        }
        if (ch < 0x80) {
            p++;
            continue;
        }
        /* UTF-8: well-formed sequences only */
        int len;
        uint32_t cp;
        if (ch >= 0xC2 && ch <= 0xDF) { len = 2; cp = ch & 0x1F; }
        else if (ch >= 0xE0 && ch <= 0xEF) { len = 3; cp = ch & 0x0F; }
        else if (ch >= 0xF0 && ch <= 0xF4) { len = 4; cp = ch & 0x07; }
        else return -1;
        if (p + len > end) return -1;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) return -1;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        p += len;
    }
    return -1;
}

/* An integer of at most 18 digits (no fraction, no exponent). Anything else
 * that is a number: give up (canonical entries hold integers only). */
static int read_int(Cur *c, int64_t *out) {
    const unsigned char *p = c->p, *end = c->end;
    int neg = 0;
    if (p < end && *p == '-') { neg = 1; p++; }
    if (p >= end || *p < '0' || *p > '9') return -1;
    if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9') return -1;
    int64_t value = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (++digits > 18) return -1;
        value = value * 10 + (*p - '0');
        p++;
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return -1;
    c->p = p;
    *out = neg ? -value : value;
    return 0;
}

static int skip_value(Cur *c, int depth);

static int skip_container(Cur *c, int depth, unsigned char close, int object) {
    if (depth > MAX_DEPTH) return -1;
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) { c->p++; return 0; }
    for (;;) {
        if (object) {
            Str key;
            if (c->p >= c->end || *c->p != '"' || read_string(c, &key)) return -1;
            ws(c);
            if (c->p >= c->end || *c->p != ':') return -1;
            c->p++;
            ws(c);
        }
        if (skip_value(c, depth + 1)) return -1;
        ws(c);
        if (c->p >= c->end) return -1;
        if (*c->p == ',') { c->p++; ws(c); continue; }
        if (*c->p == close) { c->p++; return 0; }
        return -1;
    }
}

static int literal(Cur *c, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return -1;
    c->p += n;
    return 0;
}

static int skip_value(Cur *c, int depth) {
    if (c->p >= c->end) return -1;
    Str s;
    int64_t i;
    switch (*c->p) {
    case '"': return read_string(c, &s);
    case '{': return skip_container(c, depth, '}', 1);
    case '[': return skip_container(c, depth, ']', 0);
    case 't': return literal(c, "true");
    case 'f': return literal(c, "false");
    case 'n': return literal(c, "null");
    default: return read_int(c, &i);
    }
}

/* Walk an object: for each key, call `on_key` positioned at the value, which
 * must consume it (returning 0), or return 1 to have it skipped. Keys that
 * carry escapes make us give up (one could spell a key the reference reads). */
typedef int (*KeyFn)(void *ctx, Cur *c, const Str *key);

static int walk_object(Cur *c, int depth, void *ctx, KeyFn on_key) {
    if (c->p >= c->end || *c->p != '{' || depth > MAX_DEPTH) return -1;
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') { c->p++; return 0; }
    for (;;) {
        Str key;
        if (c->p >= c->end || *c->p != '"' || read_string(c, &key) || key.escaped) return -1;
        ws(c);
        if (c->p >= c->end || *c->p != ':') return -1;
        c->p++;
        ws(c);
        int r = on_key(ctx, c, &key);
        if (r < 0) return -1;
        if (r > 0 && skip_value(c, depth + 1)) return -1;
        ws(c);
        if (c->p >= c->end) return -1;
        if (*c->p == ',') { c->p++; ws(c); continue; }
        if (*c->p == '}') { c->p++; return 0; }
        return -1;
    }
}

static int key_is(const Str *key, const char *name) {
    size_t n = strlen(name);
    return (size_t)key->n == n && memcmp(key->s, name, n) == 0;
}

/* A plain string value (no escapes: the reference would decode them). */
static int plain_string(Cur *c, Str *out) {
    if (c->p >= c->end || *c->p != '"' || read_string(c, out) || out->escaped) return -1;
    return 0;
}

static int checked_int(Cur *c, int64_t *out) {
    if (read_int(c, out)) return -1;
    if (*out > LIMIT || *out < -LIMIT) return -1;
    return 0;
}

/* ---------------------------------------------------------------- entries */

enum { K_OTHER, K_OPENED, K_ISSUED, K_MOVE };

typedef struct {
    Verifier *v;
    int seen_seq, seen_prev, seen_kind, seen_data;
    int64_t seq;
    const char *kind; Py_ssize_t kind_len;
    const char *prev; Py_ssize_t prev_len;
    int kind_code;
    int data_ok;
} TopCtx;

typedef struct {
    int seen_account, seen_type;
    Str account, type;
} OpenCtx;

static int open_key(void *ctx, Cur *c, const Str *key) {
    OpenCtx *o = ctx;
    if (key_is(key, "account")) {
        if (o->seen_account++) return -1;
        return plain_string(c, &o->account);
    }
    if (key_is(key, "type")) {
        if (o->seen_type++) return -1;
        return plain_string(c, &o->type);
    }
    return 1;
}

static int is_terminal_type(const Str *t) {
    static const char *terminal[] = {"retirement", "cancellation", "omge", "export"};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(terminal[i]);
        if ((size_t)t->n == n && memcmp(t->s, terminal[i], n) == 0) return 1;
    }
    return 0;
}

static int replay_open(Verifier *v, Cur *c) {
    OpenCtx o = {0};
    if (walk_object(c, 1, &o, open_key)) return -1;
    if (!o.seen_account || !o.seen_type) return -1;
    int32_t index = open_account(v, o.account.s, o.account.n);
    if (index < 0) return -1;
    v->accounts[index].terminal = is_terminal_type(&o.type);
    return 0;
}

/* units.issued */

typedef struct {
    int seen_project, seen_vintage, seen_unit_class, seen_quantity;
    Str project, unit_class;
    int64_t vintage, quantity;
} InfoCtx;

static int info_key(void *ctx, Cur *c, const Str *key) {
    InfoCtx *i = ctx;
    if (key_is(key, "project")) { if (i->seen_project++) return -1; return plain_string(c, &i->project); }
    if (key_is(key, "unit_class")) { if (i->seen_unit_class++) return -1; return plain_string(c, &i->unit_class); }
    if (key_is(key, "vintage")) { if (i->seen_vintage++) return -1; return checked_int(c, &i->vintage); }
    if (key_is(key, "quantity")) { if (i->seen_quantity++) return -1; return checked_int(c, &i->quantity); }
    return 1;
}

typedef struct {
    int seen_start, seen_end, seen_account;
    int64_t start, end;
    Str account;
} BlockCtx;

static int block_key(void *ctx, Cur *c, const Str *key) {
    BlockCtx *b = ctx;
    if (key_is(key, "start")) { if (b->seen_start++) return -1; return checked_int(c, &b->start); }
    if (key_is(key, "end")) { if (b->seen_end++) return -1; return checked_int(c, &b->end); }
    if (key_is(key, "account")) { if (b->seen_account++) return -1; return plain_string(c, &b->account); }
    return 1;
}

typedef struct {
    Verifier *v;
    int seen_issuance, seen_blocks;
    InfoCtx info;
    Block *blocks;
    Py_ssize_t n, cap;
} IssueCtx;

static int push_block(IssueCtx *ctx, int64_t start, int64_t end, int32_t holder) {
    if (ctx->n == ctx->cap) {
        Py_ssize_t cap = ctx->cap ? ctx->cap * 2 : 4;
        Block *grown = PyMem_Realloc(ctx->blocks, cap * sizeof(Block));
        if (!grown) return -1;
        ctx->blocks = grown;
        ctx->cap = cap;
    }
    ctx->blocks[ctx->n++] = (Block){start, end, holder};
    return 0;
}

static int issue_key(void *vctx, Cur *c, const Str *key) {
    IssueCtx *ctx = vctx;
    if (key_is(key, "issuance")) {
        if (ctx->seen_issuance++) return -1;
        return walk_object(c, 2, &ctx->info, info_key);
    }
    if (key_is(key, "blocks")) {
        if (ctx->seen_blocks++) return -1;
        if (c->p >= c->end || *c->p != '[') return -1;
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == ']') { c->p++; return 0; }
        for (;;) {
            BlockCtx b = {0};
            if (walk_object(c, 3, &b, block_key)) return -1;
            if (!b.seen_start || !b.seen_end || !b.seen_account) return -1;
            int32_t holder = find_account(ctx->v, b.account.s, b.account.n);
            if (holder < 0) return -1;
            if (push_block(ctx, b.start, b.end, holder)) return -1;
            ws(c);
            if (c->p >= c->end) return -1;
            if (*c->p == ',') { c->p++; ws(c); continue; }
            if (*c->p == ']') { c->p++; return 0; }
            return -1;
        }
    }
    return 1;
}

static int replay_issue(Verifier *v, Cur *c) {
    IssueCtx ctx = {0};
    ctx.v = v;
    int r = walk_object(c, 1, &ctx, issue_key);
    InfoCtx *info = &ctx.info;
    if (r || !ctx.seen_issuance || !ctx.seen_blocks || ctx.n == 0 || !info->seen_project || !info->seen_vintage ||
        !info->seen_unit_class || !info->seen_quantity)
        goto refuse;
    /* The reference sorts the blocks by start; we take them only already in order. */
    int64_t start = ctx.blocks[0].start, end = start + info->quantity - 1;
    if (v->n_issuances && start <= v->issuances[v->n_issuances - 1].end) goto refuse;
    int64_t cursor = start;
    for (Py_ssize_t i = 0; i < ctx.n; i++) {
        if (ctx.blocks[i].start != cursor || ctx.blocks[i].end < ctx.blocks[i].start) goto refuse;
        cursor = ctx.blocks[i].end + 1;
    }
    if (cursor != end + 1) goto refuse;
    if (v->n_issuances == v->cap_issuances) {
        Py_ssize_t cap = v->cap_issuances ? v->cap_issuances * 2 : 256;
        Issuance *grown = PyMem_Realloc(v->issuances, cap * sizeof(Issuance));
        if (!grown) goto refuse;
        v->issuances = grown;
        v->cap_issuances = cap;
    }
    PyObject *project = PyUnicode_DecodeUTF8(info->project.s, info->project.n, "strict");
    PyObject *unit_class = PyUnicode_DecodeUTF8(info->unit_class.s, info->unit_class.n, "strict");
    if (!project || !unit_class) {
        Py_XDECREF(project);
        Py_XDECREF(unit_class);
        PyErr_Clear();
        goto refuse;
    }
    Issuance *iss = &v->issuances[v->n_issuances++];
    iss->start = start;
    iss->end = end;
    iss->vintage = info->vintage;
    iss->project = project;
    iss->unit_class = unit_class;
    iss->blocks = ctx.blocks;
    iss->n = ctx.n;
    iss->cap = ctx.cap;
    return 0;
refuse:
    PyMem_Free(ctx.blocks);
    return -1;
}

/* units.<anything but issued>: a move */

typedef struct {
    Verifier *v;
    int seen_from, seen_to, seen_quantity, seen_ranges;
    Str from, to;
    int64_t quantity;
    int64_t *ranges; /* pairs: `local` until it outgrows it */
    Py_ssize_t n, cap;
    int64_t local[32];
} MoveCtx;

static int move_key(void *vctx, Cur *c, const Str *key) {
    MoveCtx *m = vctx;
    if (key_is(key, "from")) { if (m->seen_from++) return -1; return plain_string(c, &m->from); }
    if (key_is(key, "to")) { if (m->seen_to++) return -1; return plain_string(c, &m->to); }
    if (key_is(key, "quantity")) { if (m->seen_quantity++) return -1; return checked_int(c, &m->quantity); }
    if (key_is(key, "ranges")) {
        if (m->seen_ranges++) return -1;
        if (c->p >= c->end || *c->p != '[') return -1;
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == ']') { c->p++; return 0; }
        for (;;) {
            int64_t a, b;
            if (c->p >= c->end || *c->p != '[') return -1;
            c->p++;
            ws(c);
            if (checked_int(c, &a)) return -1;
            ws(c);
            if (c->p >= c->end || *c->p != ',') return -1;
            c->p++;
            ws(c);
            if (checked_int(c, &b)) return -1;
            ws(c);
            if (c->p >= c->end || *c->p != ']') return -1;
            c->p++;
            if (m->n + 2 > m->cap) {
                Py_ssize_t cap = m->cap * 2;
                int64_t *grown = PyMem_Malloc(cap * sizeof(int64_t));
                if (!grown) return -1;
                memcpy(grown, m->ranges, m->n * sizeof(int64_t));
                if (m->ranges != m->local) PyMem_Free(m->ranges);
                m->ranges = grown;
                m->cap = cap;
            }
            m->ranges[m->n++] = a;
            m->ranges[m->n++] = b;
            ws(c);
            if (c->p >= c->end) return -1;
            if (*c->p == ',') { c->p++; ws(c); continue; }
            if (*c->p == ']') { c->p++; return 0; }
            return -1;
        }
    }
    return 1;
}

static int insert_block(Issuance *iss, Py_ssize_t at, Block block) {
    if (iss->n == iss->cap) {
        Py_ssize_t cap = iss->cap * 2 + 4;
        Block *grown = PyMem_Realloc(iss->blocks, cap * sizeof(Block));
        if (!grown) return -1;
        iss->blocks = grown;
        iss->cap = cap;
    }
    memmove(&iss->blocks[at + 1], &iss->blocks[at], (iss->n - at) * sizeof(Block));
    iss->blocks[at] = block;
    iss->n++;
    return 0;
}

static Py_ssize_t find_issuance(Verifier *v, int64_t serial) {
    Py_ssize_t lo = 0, hi = v->n_issuances; /* first with start > serial */
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (v->issuances[mid].start <= serial) lo = mid + 1; else hi = mid;
    }
    if (lo == 0 || v->issuances[lo - 1].end < serial) return -1;
    return lo - 1;
}

static Py_ssize_t find_block(Issuance *iss, int64_t serial) {
    Py_ssize_t lo = 0, hi = iss->n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (iss->blocks[mid].start <= serial) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
}

/* One range, as Holdings._reassign does it: every block it touches must be
 * held by the source; blocks split at the range's ends. */
static int move_range(Verifier *v, int64_t start, int64_t end, int32_t source, int32_t target) {
    if (end < start) return -1;
    Py_ssize_t k = find_issuance(v, start);
    if (k < 0) return -1;
    Issuance *iss = &v->issuances[k];
    if (end > iss->end) return -1;
    int64_t cursor = start;
    Py_ssize_t i = find_block(iss, cursor);
    while (cursor <= end) {
        if (i < 0 || i >= iss->n) return -1;
        Block *b = &iss->blocks[i];
        if (b->start > cursor || b->end < cursor || b->holder != source) return -1;
        int64_t block_end = b->end, piece_end = end < block_end ? end : block_end;
        int32_t holder = b->holder;
        if (b->start < cursor) {
            b->end = cursor - 1;
            i++;
            if (insert_block(iss, i, (Block){cursor, piece_end, target})) return -1;
        } else {
            b->end = piece_end;
            b->holder = target;
        }
        if (piece_end < block_end && insert_block(iss, i + 1, (Block){piece_end + 1, block_end, holder})) return -1;
        cursor = piece_end + 1;
        i++;
    }
    return 0;
}

static int replay_move(Verifier *v, Cur *c) {
    MoveCtx m;
    memset(&m, 0, offsetof(MoveCtx, local));
    m.v = v;
    m.ranges = m.local;
    m.cap = 32;
    int r = walk_object(c, 1, &m, move_key);
    if (r || !m.seen_from || !m.seen_to || !m.seen_quantity || !m.seen_ranges) goto refuse;
    int32_t source = find_account(v, m.from.s, m.from.n);
    int32_t target = find_account(v, m.to.s, m.to.n);
    if (source < 0 || target < 0 || v->accounts[source].terminal) goto refuse;
    int64_t moved = 0;
    for (Py_ssize_t i = 0; i < m.n; i += 2) {
        if (move_range(v, m.ranges[i], m.ranges[i + 1], source, target)) goto refuse;
        if (__builtin_add_overflow(moved, m.ranges[i + 1] - m.ranges[i] + 1, &moved)) goto refuse;
    }
    if (moved != m.quantity) goto refuse;
    if (m.ranges != m.local) PyMem_Free(m.ranges);
    return 0;
refuse:
    if (m.ranges != m.local) PyMem_Free(m.ranges);
    return -1;
}

static int top_key(void *vctx, Cur *c, const Str *key) {
    TopCtx *t = vctx;
    if (key_is(key, "seq")) {
        if (t->seen_seq++) return -1;
        return read_int(c, &t->seq);
    }
    if (key_is(key, "prev")) {
        Str s;
        if (t->seen_prev++ || plain_string(c, &s)) return -1;
        t->prev = s.s;
        t->prev_len = s.n;
        return 0;
    }
    if (key_is(key, "kind")) {
        Str s;
        if (t->seen_kind++ || plain_string(c, &s)) return -1;
        t->kind = s.s;
        t->kind_len = s.n;
        return 0;
    }
    if (key_is(key, "data")) {
        if (t->seen_data++) return -1;
        /* The kind may come after data in a non-canonical body: then give up
         * (canonical bodies sort their keys, so "data" < "kind"... is false;
         * we read data only once the kind column tells us what it is). */
        switch (t->kind_code) {
        case K_OPENED: return replay_open(t->v, c);
        case K_ISSUED: return replay_issue(t->v, c);
        case K_MOVE: return replay_move(t->v, c);
        default: return skip_value(c, 1);
        }
    }
    return 1;
}

static int kind_code(const char *kind, Py_ssize_t n) {
    if (n == 14 && memcmp(kind, "account.opened", 14) == 0) return K_OPENED;
    if (n == 12 && memcmp(kind, "units.issued", 12) == 0) return K_ISSUED;
    if (n >= 6 && memcmp(kind, "units.", 6) == 0) return K_MOVE;
    return K_OTHER;
}

/* ---------------------------------------------------------------- chain */

static const char HEX[] = "0123456789abcdef";

/* OpenSSL 3's one-shot SHA256() fetches the algorithm (a lock) on every call. */
static void sha256(const unsigned char *data, size_t n, unsigned char out[32]) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, n);
    SHA256_Final(out, &ctx);
}

static void merkle_append(Verifier *v, const unsigned char leaf[32]) {
    unsigned char node[32], buf[65];
    memcpy(node, leaf, 32);
    uint64_t n = (uint64_t)v->expected; /* leaves before this one */
    while (n & 1) {
        buf[0] = 1;
        memcpy(buf + 1, v->stack[--v->depth], 32);
        memcpy(buf + 33, node, 32);
        sha256(buf, 65, node);
        n >>= 1;
    }
    memcpy(v->stack[v->depth++], node, 32);
}

static PyObject *merkle_root(Verifier *v) {
    unsigned char h[32], buf[65];
    if (!v->depth) {
        sha256((const unsigned char *)"", 0, h);
    } else {
        memcpy(h, v->stack[v->depth - 1], 32);
        for (int i = v->depth - 2; i >= 0; i--) {
            buf[0] = 1;
            memcpy(buf + 1, v->stack[i], 32);
            memcpy(buf + 33, h, 32);
            sha256(buf, 65, h);
        }
    }
    return PyBytes_FromStringAndSize((const char *)h, 32);
}

/* One entry; 0 if it passed, -1 (with v->failed set) if not, -2 on a Python error. */
static int check_entry(Verifier *v, int64_t seq, const char *kind, Py_ssize_t kind_len, const unsigned char *body,
                 Py_ssize_t body_len, const char *prev, Py_ssize_t prev_len, const char *leaf, Py_ssize_t leaf_len) {
    if (v->failed) return -1;
    if (seq != v->expected) return fail(v, "sequence");
    SHA256_CTX sha;
    unsigned char digest[32];
    char hex[64];
    SHA256_Init(&sha);
    SHA256_Update(&sha, "\0", 1);
    SHA256_Update(&sha, body, body_len);
    SHA256_Final(digest, &sha);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = HEX[digest[i] >> 4];
        hex[2 * i + 1] = HEX[digest[i] & 15];
    }
    if (leaf_len != 64 || memcmp(hex, leaf, 64)) return fail(v, "leaf hash");
    if (prev_len != 64 || memcmp(prev, v->prev_hex, 64)) return fail(v, "chain");
    merkle_append(v, digest);
    memcpy(v->prev_hex, hex, 64);
    v->expected++;
    if (v->next_cp < v->n_cp && v->cp_sizes[v->next_cp] == v->expected) {
        PyObject *root = merkle_root(v), *size = PyLong_FromLongLong(v->expected);
        if (!root || !size || PyDict_SetItem(v->roots, size, root)) {
            Py_XDECREF(root);
            Py_XDECREF(size);
            return -2;
        }
        Py_DECREF(root);
        Py_DECREF(size);
        v->next_cp++;
    }
    /* content and replay */
    TopCtx t = {0};
    t.v = v;
    t.kind_code = kind_code(kind, kind_len);
    Cur c = {body, body + body_len};
    ws(&c);
    if (walk_object(&c, 0, &t, top_key)) return fail(v, "content or replay");
    ws(&c);
    if (c.p != c.end) return fail(v, "content");
    if (!t.seen_seq || !t.seen_prev || !t.seen_kind || !t.seen_data) return fail(v, "content");
    if (t.seq != seq || t.prev_len != prev_len || memcmp(t.prev, prev, prev_len) || t.kind_len != kind_len ||
        memcmp(t.kind, kind, kind_len))
        return fail(v, "content");
    return 0;
}

/* Entries in seq order, whatever order they arrive in: a row ahead of its
 * turn waits (up to MAX_PENDING of them; beyond that, `disorder` says to read
 * again in seq order); a seq already passed, or one never reached, fails. */
static int entry(Verifier *v, int64_t seq, const char *kind, Py_ssize_t kind_len, const unsigned char *body,
                 Py_ssize_t body_len, const char *prev, Py_ssize_t prev_len, const char *leaf, Py_ssize_t leaf_len) {
    if (v->failed) return -1;
    if (seq > v->expected) {
        if (v->n_pending == MAX_PENDING) {
            v->disorder = 1;
            return fail(v, "too far out of order");
        }
        if (!v->pending && !(v->pending = PyMem_Calloc(MAX_PENDING, sizeof(struct Pending)))) {
            PyErr_NoMemory();
            return -2;
        }
        for (Py_ssize_t i = 0; i < v->n_pending; i++)
            if (v->pending[i].seq == seq) return fail(v, "a seq twice");
        unsigned char *data = PyMem_Malloc(kind_len + body_len + prev_len + leaf_len + 1);
        if (!data) { PyErr_NoMemory(); return -2; }
        struct Pending *p = &v->pending[v->n_pending++];
        p->seq = seq;
        p->data = data;
        p->len[0] = kind_len; p->len[1] = body_len; p->len[2] = prev_len; p->len[3] = leaf_len;
        memcpy(data, kind, kind_len);
        memcpy(data + kind_len, body, body_len);
        memcpy(data + kind_len + body_len, prev, prev_len);
        memcpy(data + kind_len + body_len + prev_len, leaf, leaf_len);
        return 0;
    }
    int r = check_entry(v, seq, kind, kind_len, body, body_len, prev, prev_len, leaf, leaf_len);
    while (r == 0 && v->n_pending) {
        Py_ssize_t i = 0;
        while (i < v->n_pending && v->pending[i].seq != v->expected) i++;
        if (i == v->n_pending) break;
        struct Pending p = v->pending[i];
        v->pending[i] = v->pending[--v->n_pending];
        const unsigned char *d = p.data;
        r = check_entry(v, p.seq, (const char *)d, p.len[0], d + p.len[0], p.len[1],
                        (const char *)d + p.len[0] + p.len[1], p.len[2],
                        (const char *)d + p.len[0] + p.len[1] + p.len[2], p.len[3]);
        PyMem_Free(p.data);
    }
    return r;
}

static int entries_done(Verifier *v) {
    if (!v->failed && v->n_pending) fail(v, "an entry missing");
    return v->failed ? -1 : 0;
}

/* ---------------------------------------------------------------- COPY */

static const unsigned char SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xFF, '\r', '\n', 0};

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Rows from v->buf[v->pos:]; stops at an incomplete row. */
static int parse_rows(Verifier *v) {
    const unsigned char *buf = v->buf;
    size_t len = v->len, pos = v->pos;
    if (!v->header_done) {
        if (len - pos < 19) return 0;
        if (memcmp(buf + pos, SIGNATURE, 11)) return fail(v, "COPY signature");
        uint32_t ext = be32(buf + pos + 15);
        if (len - pos < 19 + (size_t)ext) return 0;
        pos += 19 + ext;
        v->header_done = 1;
    }
    while (!v->failed && !v->trailer_seen) {
        if (len - pos < 2) break;
        int16_t fields = (int16_t)((buf[pos] << 8) | buf[pos + 1]);
        if (fields == -1) {
            v->trailer_seen = 1;
            pos += 2;
            break;
        }
        if (fields != 5) { fail(v, "COPY row shape"); break; }
        size_t at = pos + 2;
        const unsigned char *field[5];
        Py_ssize_t flen[5];
        int complete = 1;
        for (int f = 0; f < 5; f++) {
            if (len - at < 4) { complete = 0; break; }
            int32_t n = (int32_t)be32(buf + at);
            at += 4;
            if (n < 0) return fail(v, "COPY null");
            if (len - at < (size_t)n) { complete = 0; break; }
            field[f] = buf + at;
            flen[f] = n;
            at += n;
        }
        if (!complete) break;
        if (flen[0] != 8) return fail(v, "COPY seq");
        int64_t seq = (int64_t)(((uint64_t)be32(field[0]) << 32) | be32(field[0] + 4));
        int r = entry(v, seq, (const char *)field[1], flen[1], field[2], flen[2], (const char *)field[3], flen[3],
                      (const char *)field[4], flen[4]);
        if (r == -2) return -2;
        pos = at;
    }
    v->pos = pos;
    return 0;
}

/* ---------------------------------------------------------------- Python API */

static int Verifier_init(Verifier *v, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"checkpoint_sizes", NULL};
    PyObject *sizes;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &sizes)) return -1;
    if (v->roots) {
        PyErr_SetString(PyExc_RuntimeError, "a Verifier is used once");
        return -1;
    }
    PyObject *seq = PySequence_Fast(sizes, "checkpoint_sizes must be a sequence");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    v->cp_sizes = PyMem_Calloc(n ? n : 1, sizeof(int64_t));
    if (!v->cp_sizes) { Py_DECREF(seq); PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long s = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (s == -1 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
        if (s <= 0 || (i && s <= v->cp_sizes[i - 1])) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "checkpoint sizes must be positive and increasing");
            return -1;
        }
        v->cp_sizes[i] = s;
    }
    Py_DECREF(seq);
    v->n_cp = n;
    memset(v->prev_hex, '0', 64);
    v->roots = PyDict_New();
    return v->roots ? 0 : -1;
}

static void Verifier_dealloc(Verifier *v) {
    for (Py_ssize_t i = 0; i < v->n_accounts; i++) PyMem_Free(v->accounts[i].name);
    PyMem_Free(v->accounts);
    PyMem_Free(v->table);
    for (Py_ssize_t i = 0; i < v->n_issuances; i++) {
        Py_XDECREF(v->issuances[i].project);
        Py_XDECREF(v->issuances[i].unit_class);
        PyMem_Free(v->issuances[i].blocks);
    }
    PyMem_Free(v->issuances);
    for (Py_ssize_t i = 0; i < v->n_pending; i++) PyMem_Free(v->pending[i].data);
    PyMem_Free(v->pending);
    PyMem_Free(v->cp_sizes);
    PyMem_Free(v->buf);
    Py_XDECREF(v->roots);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static PyObject *ok_or_fail(Verifier *v) {
    if (v->failed) Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

static int ready(Verifier *v) {
    if (!v->roots) {
        PyErr_SetString(PyExc_RuntimeError, "Verifier not initialised");
        return -1;
    }
    return 0;
}

/* Parse rows from `data` (the next bytes of the stream): straight from the
 * caller's bytes when nothing is pending, keeping only an incomplete tail. */
static int feed_bytes(Verifier *v, const unsigned char *data, size_t n) {
    if (v->failed) return 0;
    if (v->trailer_seen) {
        if (n) fail(v, "data after the COPY trailer");
        return 0;
    }
    if (v->pos == v->len) {
        unsigned char *saved = v->buf;
        size_t saved_len = v->len, saved_cap = v->cap;
        v->buf = (unsigned char *)data;
        v->len = n;
        v->pos = 0;
        int r = parse_rows(v);
        size_t rest = v->len - v->pos, at = v->pos;
        v->buf = saved;
        v->len = saved_len;
        v->cap = saved_cap;
        v->pos = v->len = 0;
        if (r == -2) return -2;
        data += at;
        n = rest;
        if (!n || v->failed) return 0;
    }
    if (v->pos) {
        memmove(v->buf, v->buf + v->pos, v->len - v->pos);
        v->len -= v->pos;
        v->pos = 0;
    }
    if (v->len + n > v->cap) {
        size_t cap = v->cap ? v->cap : 1 << 16;
        while (cap < v->len + n) cap *= 2;
        unsigned char *grown = PyMem_Realloc(v->buf, cap);
        if (!grown) { PyErr_NoMemory(); return -2; }
        v->buf = grown;
        v->cap = cap;
    }
    memcpy(v->buf + v->len, data, n);
    v->len += n;
    return parse_rows(v) == -2 ? -2 : 0;
}

static PyObject *Verifier_feed_copy(Verifier *v, PyObject *arg) {
    if (ready(v)) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    int r = feed_bytes(v, view.buf, view.len);
    PyBuffer_Release(&view);
    if (r == -2) return NULL;
    return ok_or_fail(v);
}

static PyObject *Verifier_finish_copy(Verifier *v, PyObject *unused) {
    if (ready(v)) return NULL;
    if (!v->failed && (!v->header_done || !v->trailer_seen || v->pos != v->len)) fail(v, "incomplete COPY stream");
    entries_done(v);
    return ok_or_fail(v);
}

static PyObject *Verifier_feed_row(Verifier *v, PyObject *args) {
    if (ready(v)) return NULL;
    long long seq;
    const char *kind, *prev, *leaf;
    Py_ssize_t kind_len, prev_len, leaf_len;
    Py_buffer body;
    if (!PyArg_ParseTuple(args, "Ls#y*s#s#", &seq, &kind, &kind_len, &body, &prev, &prev_len, &leaf, &leaf_len))
        return NULL;
    int r = entry(v, seq, kind, kind_len, body.buf, body.len, prev, prev_len, leaf, leaf_len);
    PyBuffer_Release(&body);
    if (r == -2) return NULL;
    return ok_or_fail(v);
}

static PyObject *Verifier_finish_rows(Verifier *v, PyObject *unused) {
    if (ready(v)) return NULL;
    entries_done(v);
    return ok_or_fail(v);
}

static PyObject *Verifier_blocks(Verifier *v, PyObject *unused) {
    if (ready(v)) return NULL;
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < v->n_issuances; i++) total += v->issuances[i].n;
    PyObject *names = PyList_New(v->n_accounts);
    if (!names) return NULL;
    for (Py_ssize_t i = 0; i < v->n_accounts; i++) {
        PyObject *name = PyUnicode_DecodeUTF8(v->accounts[i].name, v->accounts[i].len, "strict");
        if (!name) { Py_DECREF(names); return NULL; }
        PyList_SET_ITEM(names, i, name);
    }
    PyObject *out = PyList_New(total);
    if (!out) { Py_DECREF(names); return NULL; }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < v->n_issuances; i++) {
        Issuance *iss = &v->issuances[i];
        PyObject *vintage = PyLong_FromLongLong(iss->vintage);
        if (!vintage) goto error;
        for (Py_ssize_t j = 0; j < iss->n; j++) {
            Block *b = &iss->blocks[j];
            PyObject *row = Py_BuildValue("(LLOOOO)", (long long)b->start, (long long)b->end,
                                          PyList_GET_ITEM(names, b->holder), iss->project, vintage, iss->unit_class);
            if (!row) { Py_DECREF(vintage); goto error; }
            PyList_SET_ITEM(out, k++, row);
        }
        Py_DECREF(vintage);
    }
    Py_DECREF(names);
    return out;
error:
    Py_DECREF(names);
    Py_DECREF(out);
    return NULL;
}

static PyObject *get_entries(Verifier *v, void *c) { return PyLong_FromLongLong(v->expected); }
static PyObject *get_prev(Verifier *v, void *c) { return PyUnicode_FromStringAndSize(v->prev_hex, 64); }
static PyObject *get_failed(Verifier *v, void *c) { return PyBool_FromLong(v->failed); }
static PyObject *get_disorder(Verifier *v, void *c) { return PyBool_FromLong(v->disorder); }
static PyObject *get_reason(Verifier *v, void *c) { return PyUnicode_FromString(v->failed ? v->reason : ""); }
static PyObject *get_roots(Verifier *v, void *c) {
    if (ready(v)) return NULL;
    return PyDict_Copy(v->roots);
}

static PyGetSetDef Verifier_getset[] = {
    {"entries", (getter)get_entries, NULL, "entries that passed so far", NULL},
    {"prev", (getter)get_prev, NULL, "leaf hash (hex) of the last entry that passed", NULL},
    {"failed", (getter)get_failed, NULL, "gave up (the reference verifier decides)", NULL},
    {"disorder", (getter)get_disorder, NULL, "gave up only because rows came too far out of seq order", NULL},
    {"reason", (getter)get_reason, NULL, "why it gave up (for diagnostics only)", NULL},
    {"roots", (getter)get_roots, NULL, "Merkle root at each checkpoint size reached", NULL},
    {NULL},
};

static PyMethodDef Verifier_methods[] = {
    {"feed_copy", (PyCFunction)Verifier_feed_copy, METH_O, "feed a chunk of the binary COPY stream; False once given up"},
    {"finish_copy", (PyCFunction)Verifier_finish_copy, METH_NOARGS, "the COPY stream ended; False if incomplete or given up"},
    {"feed_row", (PyCFunction)Verifier_feed_row, METH_VARARGS, "feed_row(seq, kind, body, prev_hash, leaf_hash)"},
    {"finish_rows", (PyCFunction)Verifier_finish_rows, METH_NOARGS, "the rows ended; False if any is missing or given up"},
    {"blocks", (PyCFunction)Verifier_blocks, METH_NOARGS, "replayed blocks in serial order"},
    {NULL},
};

static PyTypeObject VerifierType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tonne.ledger._fastverify.Verifier",
    .tp_basicsize = sizeof(Verifier),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Chain, Merkle, content and replay checks of the ledger in one pass.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Verifier_init,
    .tp_dealloc = (destructor)Verifier_dealloc,
    .tp_methods = Verifier_methods,
    .tp_getset = Verifier_getset,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastverify", "Compiled ledger verification.", -1, NULL};

PyMODINIT_FUNC PyInit__fastverify(void) {
    if (PyType_Ready(&VerifierType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&VerifierType);
    if (PyModule_AddObject(m, "Verifier", (PyObject *)&VerifierType) < 0) {
        Py_DECREF(&VerifierType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
