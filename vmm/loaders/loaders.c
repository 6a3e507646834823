/* The kernel loaders' table: one line per format, in the order auto-detection tries them. */
#include <stdio.h>
#include <string.h>

#include "loader_internal.h"

static const struct loader_type bzimage_loader = {"bzimage", loader_bzimage_probe,
						  loader_bzimage_load_buf, true};
static const struct loader_type multiboot_loader = {"multiboot", loader_multiboot_probe,
						    loader_multiboot_load_buf, false};
static const struct loader_type pvh_loader = {"pvh", loader_pvh_probe, loader_pvh_load_buf, true};

/* A multiboot header wins over a PVH note: the header is the image's own request. */
const struct loader_type *const loader_types[] = {
    &bzimage_loader,
    &multiboot_loader,
    &pvh_loader,
    NULL,
};

static void loader_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct loader_type *const *t = loader_types; *t && used < len; t++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 t == loader_types ? "" : ", ", (*t)->name);
}

const struct loader_type *loader_find(const char *name, struct errbuf *e)
{
	char names[128];

	for (const struct loader_type *const *t = loader_types; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	loader_names(names, sizeof(names));
	err_set(e, "unknown loader '%s' (known: auto, %s)", name, names);
	return NULL;
}

const struct loader_type *loader_detect(const void *image, size_t len, struct errbuf *e)
{
	const uint8_t *d = image;

	for (const struct loader_type *const *t = loader_types; *t; t++)
		if ((*t)->probe(image, len))
			return *t;
	if (len >= 4 && !memcmp(d,
				"\x7f"
				"ELF",
				4))
		err_set(e, "kernel is an ELF file with neither a multiboot header nor a PVH entry "
			   "note (\"Xen\", type 18)");
	else
		err_set(e, "kernel format not recognised: not a bzImage (no 'HdrS' at 0x202), "
			   "multiboot image or PVH ELF");
	return NULL;
}
