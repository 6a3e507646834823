/* Guest image loaders: put an image into guest memory through the checked accessor. */
#ifndef KVMLAB_LOADER_H
#define KVMLAB_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gmem.h"

/* Where flat test guests are loaded and entered. */
#define FLAT_LOAD_GPA 0x100000ull

/* Copies a flat binary to gpa; refuses an empty image or one that does not fit. */
int loader_flat_load_buf(struct gmem *mem, const void *image, size_t len, uint64_t gpa,
			 struct errbuf *e);

/*
 * Reads a whole image file into a malloc'd buffer the caller frees. A file
 * larger than limit is refused before it is read, so an oversized image is
 * reported without touching guest memory; a missing, unreadable, empty or
 * non-regular file is reported with its path.
 */
void *loader_read_image(const char *path, size_t limit, size_t *len, struct errbuf *e);

#endif
