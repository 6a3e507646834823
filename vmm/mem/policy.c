/* Memory-policy plumbing: spec parsing, lookup by name, and checked calls into a policy's ops. */
#include <stdio.h>
#include <string.h>

#include "kvmlab/mem.h"
#include "kvmlab/parse.h"

int mem_spec_parse(const char *spec, struct mem_opts *o, struct errbuf *e)
{
	char *p, *next;

	memset(o, 0, sizeof(*o));
	if (!spec || !*spec)
		spec = mem_policies[0]->name;
	if (strlen(spec) >= sizeof(o->buf))
		return err_set(e, "memory policy spec '%.40s...' is longer than %d characters",
			       spec, MEM_SPEC_MAX - 1);
	strcpy(o->buf, spec);
	o->name = o->buf;
	p = strchr(o->buf, ':');
	if (p)
		*p++ = '\0';
	if (!*o->name)
		return err_set(e, "memory policy spec '%s' has no policy name", spec);
	for (; p; p = next) {
		char *eq;

		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		eq = strchr(p, '=');
		if (!eq || eq == p)
			return err_set(e, "memory policy spec '%s': '%s' is not KEY=VALUE", spec,
				       p);
		*eq = '\0';
		for (unsigned i = 0; i < o->n; i++)
			if (!strcmp(o->opt[i].key, p))
				return err_set(e, "memory policy spec '%s' sets '%s' twice", spec,
					       p);
		if (o->n == MEM_OPTS_MAX)
			return err_set(e, "memory policy spec '%s' has more than %d options", spec,
				       MEM_OPTS_MAX);
		o->opt[o->n++] = (struct mem_opt){.key = p, .val = eq + 1};
	}
	return 0;
}

const char *mem_opt_take(struct mem_opts *o, const char *key)
{
	for (unsigned i = 0; i < o->n; i++) {
		if (!strcmp(o->opt[i].key, key)) {
			o->opt[i].taken = true;
			return o->opt[i].val;
		}
	}
	return NULL;
}

int mem_opts_take_vm(struct mem_opts *o, uint32_t *ring_entries, struct errbuf *e)
{
	const char *ring = mem_opt_take(o, "dirty_ring");
	uint64_t n = 0;

	o->vm_opts = true;
	if (ring && parse_uint(ring, 1, MEM_DIRTY_RING_MAX, &n, "dirty_ring", e))
		return -1;
	*ring_entries = (uint32_t)n;
	return 0;
}

int mem_spec_check(const char *spec, struct errbuf *e)
{
	struct mem_policy p;
	struct mem_opts o;
	uint32_t ring;

	if (mem_spec_parse(spec, &o, e) || mem_opts_take_vm(&o, &ring, e) ||
	    mem_policy_init(&p, &o, NULL, e))
		return -1;
	mem_policy_close(&p);
	return 0;
}

void mem_policy_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct mem_policy_ops *const *p = mem_policies; *p && used < len; p++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 p == mem_policies ? "" : ", ", (*p)->name);
}

const struct mem_policy_ops *mem_policy_find(const char *name, struct errbuf *e)
{
	char names[160];

	for (const struct mem_policy_ops *const *p = mem_policies; *p; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	mem_policy_names(names, sizeof(names));
	err_set(e, "unknown memory policy '%s' (valid: %s)", name, names);
	return NULL;
}

int mem_policy_init(struct mem_policy *p, struct mem_opts *o, struct machine *machine,
		    struct errbuf *e)
{
	const struct mem_policy_ops *ops = mem_policy_find(o->name, e);

	memset(p, 0, sizeof(*p));
	if (!ops)
		return -1;
	p->ops = ops;
	p->page_size = ops->page_size;
	p->machine = machine;
	if (ops->init && ops->init(p, o, e))
		return -1;
	for (unsigned i = 0; i < o->n; i++) {
		if (o->opt[i].taken)
			continue;
		err_set(e, "memory policy '%s' has no option '%s' (it takes: %s%s)", ops->name,
			o->opt[i].key, ops->options ? ops->options : "no options",
			o->vm_opts ? "; every VM also takes dirty_ring=ENTRIES" : "");
		mem_policy_close(p);
		return -1;
	}
	return 0;
}

int mem_policy_open(struct mem_policy *p, const char *spec, struct errbuf *e)
{
	struct mem_opts o;

	memset(p, 0, sizeof(*p));
	if (mem_spec_parse(spec, &o, e))
		return -1;
	return mem_policy_init(p, &o, NULL, e);
}

void mem_policy_close(struct mem_policy *p)
{
	if (p->ops && p->ops->fini)
		p->ops->fini(p);
	p->ops = NULL;
}

int mem_backing_alloc(struct mem_policy *p, struct mem_backing *b, uint64_t gpa, uint64_t size,
		      struct errbuf *e)
{
	*b = (struct mem_backing){.size = size, .gpa = gpa, .fd = -1};
	if (size == 0 || size % p->page_size)
		return err_set(e,
			       "%s memory: 0x%llx bytes is not a non-zero multiple of its "
			       "%llu KiB page",
			       p->ops->name, (unsigned long long)size,
			       (unsigned long long)(p->page_size >> 10));
	if (p->ops->alloc(p, b, e))
		return -1;
	if (p->ops->prepare && p->ops->prepare(p, b, e)) {
		p->ops->free(p, b);
		return -1;
	}
	return 0;
}

int mem_backing_discard(struct mem_policy *p, struct mem_backing *b, uint64_t off, uint64_t len,
			struct errbuf *e)
{
	if (!p->ops->discard)
		return err_set(e, "memory policy '%s' cannot give pages back to the host",
			       p->ops->name);
	uint64_t unit = p->ops->discard_min ? p->ops->discard_min : p->page_size;

	if (len == 0 || off % unit || len % unit)
		return err_set(e,
			       "discard of 0x%llx bytes at offset 0x%llx: %s memory is "
			       "given back in whole %llu KiB pages",
			       (unsigned long long)len, (unsigned long long)off, p->ops->name,
			       (unsigned long long)(unit >> 10));
	if (off >= b->size || len > b->size - off)
		return err_set(e,
			       "discard of 0x%llx bytes at offset 0x%llx is outside the 0x%llx-"
			       "byte region",
			       (unsigned long long)len, (unsigned long long)off,
			       (unsigned long long)b->size);
	return p->ops->discard(p, b, off, len, e);
}

void mem_backing_free(struct mem_policy *p, struct mem_backing *b)
{
	if (b->host)
		p->ops->free(p, b);
	b->host = NULL;
}

int mem_policy_set_fault_handler(struct mem_policy *p, const struct mem_fault_ops *ops,
				 struct errbuf *e)
{
	if (!p->ops->set_fault_handler)
		return err_set(e,
			       "memory policy '%s' does no demand paging; fault handlers need "
			       "'uffd'",
			       p->ops->name);
	return p->ops->set_fault_handler(p, ops, e);
}
