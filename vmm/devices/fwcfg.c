/* A minimal QEMU fw_cfg (ports 0x510/0x511): signature, CPU count and RAM size for test guests. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kvmlab/devices.h"

/*
 * The selector/data protocol of QEMU's traditional interface: a 16-bit write
 * to the selector port picks an item and rewinds it; each byte read from the
 * data port returns the next byte of the item, zeros past its end or for an
 * item kvmlab does not have. No DMA interface (FW_CFG_ID says so).
 */

enum fwcfg_key {
	FW_CFG_SIGNATURE = 0x00,
	FW_CFG_ID = 0x01,
	FW_CFG_RAM_SIZE = 0x03,
	FW_CFG_NB_CPUS = 0x05,
	FW_CFG_MAX_CPUS = 0x0f,
	FW_CFG_FILE_DIR = 0x19,
};

#define FW_CFG_WRITE_FLAG 0x4000 /* selector bit meaning "for writing": ignored */
#define FW_CFG_ITEM_MAX	  8

struct fwcfg_item {
	uint16_t key;
	uint8_t len;
	uint8_t data[FW_CFG_ITEM_MAX];
};

struct fwcfg {
	pthread_mutex_t lock;
	struct fwcfg_item items[6];
	const struct fwcfg_item *cur;
	uint32_t pos;
};

static void fwcfg_put(struct fwcfg_item *it, uint16_t key, const void *data, uint8_t len)
{
	it->key = key;
	it->len = len;
	memcpy(it->data, data, len);
}

static void fwcfg_select(struct fwcfg *f, uint16_t key)
{
	key &= (uint16_t)~FW_CFG_WRITE_FLAG;
	f->cur = NULL;
	f->pos = 0;
	for (size_t i = 0; i < sizeof(f->items) / sizeof(f->items[0]); i++)
		if (f->items[i].len && f->items[i].key == key)
			f->cur = &f->items[i];
}

static void fwcfg_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct fwcfg *f = opaque;
	uint16_t key = 0;

	pthread_mutex_lock(&f->lock);
	if (offset == 0 && is_write) {
		memcpy(&key, data, len < 2 ? len : 2);
		fwcfg_select(f, key);
	} else if (offset == 1 && !is_write) {
		for (uint32_t i = 0; i < len; i++, f->pos++)
			data[i] = f->cur && f->pos < f->cur->len ? f->cur->data[f->pos] : 0;
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&f->lock);
}

static uint64_t fwcfg_ram_size(const struct gmem *mem)
{
	unsigned n = atomic_load(&mem->nregions);
	uint64_t total = 0;

	for (unsigned i = 0; i < n; i++)
		if (!(mem->regions[i].flags & GMEM_READONLY))
			total += mem->regions[i].size;
	return total;
}

static void fwcfg_destroy(void *opaque)
{
	struct fwcfg *f = opaque;

	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int fwcfg_attach(struct machine *m, struct errbuf *e)
{
	struct fwcfg *f = calloc(1, sizeof(*f));
	uint16_t ncpus = (uint16_t)(m->ncpus ? m->ncpus : 1);
	uint64_t ram = fwcfg_ram_size(&m->mem);
	uint32_t id = 1;		  /* traditional interface only */
	static const uint8_t no_files[4]; /* big-endian count 0 */

	if (!f)
		return err_set(e, "out of memory creating fw_cfg");
	pthread_mutex_init(&f->lock, NULL);
	fwcfg_put(&f->items[0], FW_CFG_SIGNATURE, "QEMU", 4);
	fwcfg_put(&f->items[1], FW_CFG_ID, &id, 4);
	fwcfg_put(&f->items[2], FW_CFG_RAM_SIZE, &ram, 8);
	fwcfg_put(&f->items[3], FW_CFG_NB_CPUS, &ncpus, 2);
	fwcfg_put(&f->items[4], FW_CFG_MAX_CPUS, &ncpus, 2);
	fwcfg_put(&f->items[5], FW_CFG_FILE_DIR, no_files, 4);
	if (machine_on_destroy(m, fwcfg_destroy, f, e)) {
		fwcfg_destroy(f);
		return -1;
	}
	return bus_register(&m->pio, FWCFG_PORT, 2, "fw_cfg", fwcfg_access, f, e);
}

const struct device_type fwcfg_device = {"fw_cfg", fwcfg_attach};
