// SPDX-License-Identifier: GPL-2.0
/*
 * The streaming JSON writer (json_writer.h).  Strings are escaped as
 * RFC 8259 asks; bytes outside printable ASCII are written as \u00XX,
 * because a task's comm is bytes, not UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "json_writer.h"

void jsonw_init(struct json_writer *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

void jsonw_end_document(struct json_writer *w)
{
	if (w->depth)
		abort();	/* an object or array left open: a bug */
	fputc('\n', w->out);
	w->has_value[0] = false;
}

/* before any value or name: the comma that separates it from the last */
static void jsonw_sep(struct json_writer *w)
{
	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (w->has_value[w->depth])
		fputc(',', w->out);
	w->has_value[w->depth] = true;
}

static void jsonw_open(struct json_writer *w, char c)
{
	jsonw_sep(w);
	if (w->depth + 1 >= JSONW_MAX_DEPTH)
		abort();
	fputc(c, w->out);
	w->has_value[++w->depth] = false;
}

static void jsonw_close(struct json_writer *w, char c)
{
	if (!w->depth || w->after_name)
		abort();	/* nothing open, or a name without its value */
	w->depth--;
	fputc(c, w->out);
}

void jsonw_start_object(struct json_writer *w)
{
	jsonw_open(w, '{');
}

void jsonw_end_object(struct json_writer *w)
{
	jsonw_close(w, '}');
}

void jsonw_start_array(struct json_writer *w)
{
	jsonw_open(w, '[');
}

void jsonw_end_array(struct json_writer *w)
{
	jsonw_close(w, ']');
}

static void jsonw_quoted(struct json_writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	fputc('"', w->out);
	for (i = 0; i < len && p[i]; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(w->out, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			fprintf(w->out, "\\u%04x", p[i]);
		else
			fputc(p[i], w->out);
	}
	fputc('"', w->out);
}

void jsonw_name(struct json_writer *w, const char *name)
{
	jsonw_sep(w);
	jsonw_quoted(w, name, strlen(name));
	fputc(':', w->out);
	w->after_name = true;
}

void jsonw_string(struct json_writer *w, const char *s)
{
	jsonw_sep(w);
	jsonw_quoted(w, s, strlen(s));
}

void jsonw_string_n(struct json_writer *w, const char *s, size_t len)
{
	jsonw_sep(w);
	jsonw_quoted(w, s, len);
}

void jsonw_uint(struct json_writer *w, __u64 v)
{
	jsonw_sep(w);
	fprintf(w->out, "%llu", (unsigned long long)v);
}

/* a ratio, to four decimals (JSON has no NaN: the caller writes null then) */
void jsonw_ratio(struct json_writer *w, double v)
{
	jsonw_sep(w);
	fprintf(w->out, "%.4f", v);
}

void jsonw_bool(struct json_writer *w, bool v)
{
	jsonw_sep(w);
	fputs(v ? "true" : "false", w->out);
}

void jsonw_null(struct json_writer *w)
{
	jsonw_sep(w);
	fputs("null", w->out);
}

void jsonw_string_field(struct json_writer *w, const char *name, const char *s)
{
	jsonw_name(w, name);
	jsonw_string(w, s);
}

void jsonw_uint_field(struct json_writer *w, const char *name, __u64 v)
{
	jsonw_name(w, name);
	jsonw_uint(w, v);
}

void jsonw_bool_field(struct json_writer *w, const char *name, bool v)
{
	jsonw_name(w, name);
	jsonw_bool(w, v);
}

void jsonw_null_field(struct json_writer *w, const char *name)
{
	jsonw_name(w, name);
	jsonw_null(w);
}

void jsonw_count_field(struct json_writer *w, const char *name, __u64 v, bool known)
{
	if (known)
		jsonw_uint_field(w, name, v);
	else
		jsonw_null_field(w, name);
}

void jsonw_start_object_field(struct json_writer *w, const char *name)
{
	jsonw_name(w, name);
	jsonw_start_object(w);
}

void jsonw_start_array_field(struct json_writer *w, const char *name)
{
	jsonw_name(w, name);
	jsonw_start_array(w);
}
