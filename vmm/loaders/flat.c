/* Flat binary loader: a raw image copied to one guest-physical address. */
#include "kvmlab/loader.h"

int loader_flat_load_buf(struct gmem *mem, const void *image, size_t len, uint64_t gpa,
			 struct errbuf *e)
{
	const struct gmem_region *r = gmem_region_at(mem, gpa);
	uint64_t room = r ? r->size - (gpa - r->gpa) : 0;

	if (len == 0)
		return err_set(e, "guest image is empty");
	if (len > room)
		return err_set(e,
			       "guest image of %zu bytes does not fit in guest RAM at 0x%llx "
			       "(%llu bytes available)",
			       len, (unsigned long long)gpa, (unsigned long long)room);
	if (gmem_write(mem, gpa, image, len))
		return err_set(e, "guest RAM at 0x%llx is not writable", (unsigned long long)gpa);
	return 0;
}
