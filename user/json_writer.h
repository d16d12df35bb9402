/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A streaming JSON writer: objects and arrays are opened and closed, and
 * the writer places the commas and colons, as bpftool's and iproute2's
 * json_writer do.  Nothing is built in memory: a document of a million
 * connections streams out as it is walked.
 */
#ifndef SOCKFAN_JSON_WRITER_H
#define SOCKFAN_JSON_WRITER_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

/* deeper nesting than any sockfan document needs is a bug: it aborts */
#define JSONW_MAX_DEPTH	16

struct json_writer {
	FILE *out;
	unsigned int depth;
	/* a value was written at this depth: the next one needs a comma */
	bool has_value[JSONW_MAX_DEPTH];
	bool after_name;	/* a name was written: its value comes next */
};

void jsonw_init(struct json_writer *w, FILE *out);
/* the document is complete (every object and array closed): a newline */
void jsonw_end_document(struct json_writer *w);

void jsonw_start_object(struct json_writer *w);
void jsonw_end_object(struct json_writer *w);
void jsonw_start_array(struct json_writer *w);
void jsonw_end_array(struct json_writer *w);

/* the name of the next value, inside an object */
void jsonw_name(struct json_writer *w, const char *name);

/* values */
void jsonw_string(struct json_writer *w, const char *s);
/* at most @len bytes of @s (a comm that may lack its NUL) */
void jsonw_string_n(struct json_writer *w, const char *s, size_t len);
void jsonw_uint(struct json_writer *w, __u64 v);
void jsonw_ratio(struct json_writer *w, double v);
void jsonw_bool(struct json_writer *w, bool v);
void jsonw_null(struct json_writer *w);

/* name and value in one */
void jsonw_string_field(struct json_writer *w, const char *name, const char *s);
void jsonw_uint_field(struct json_writer *w, const char *name, __u64 v);
void jsonw_bool_field(struct json_writer *w, const char *name, bool v);
void jsonw_null_field(struct json_writer *w, const char *name);
/* @v, or null when the source cannot count it (!@known): never a false 0 */
void jsonw_count_field(struct json_writer *w, const char *name, __u64 v, bool known);
void jsonw_start_object_field(struct json_writer *w, const char *name);
void jsonw_start_array_field(struct json_writer *w, const char *name);

#endif /* SOCKFAN_JSON_WRITER_H */
