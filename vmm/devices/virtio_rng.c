/* virtio-rng: the host's getrandom() into the driver's writable buffers. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "kvmlab/config.h"
#include "kvmlab/virtio.h"

#define RNG_MAX_REQUEST (64u << 10) /* bytes per chain: a hostile 4 GiB chain gets this much */

struct virtio_rng {
	struct virtio_dev *vd;
	struct virtq_elem el;
};

static uint64_t rng_features(void *dev)
{
	(void)dev;
	return 0;
}

static void rng_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	(void)dev, (void)off, (void)buf, (void)len; /* no config space */
}

/* Fills the chain's writable part (up to RNG_MAX_REQUEST); returns the bytes written. */
static uint32_t rng_fill(const struct virtq_elem *el)
{
	uint32_t done = 0;

	for (unsigned i = el->nout; i < (unsigned)el->nout + el->nin; i++) {
		uint8_t *p = el->iov[i].iov_base;
		size_t left = el->iov[i].iov_len;

		while (left && done < RNG_MAX_REQUEST) {
			size_t want = left < RNG_MAX_REQUEST - done ? left : RNG_MAX_REQUEST - done;
			ssize_t n = getrandom(p, want, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done; /* report only the bytes that are random */
			p += n;
			left -= (size_t)n;
			done += (uint32_t)n;
		}
	}
	return done;
}

static void rng_queue_notify(void *dev, unsigned qidx)
{
	struct virtio_rng *r = dev;
	struct virtq *vq = virtio_queue(r->vd, qidx);
	struct errbuf e;
	int got;

	do {
		virtq_disable_notify(vq);
		while ((got = virtq_pop(vq, &r->el, &e)) == 1) {
			if (virtq_push(vq, &r->el, rng_fill(&r->el), &e)) {
				got = -1;
				break;
			}
		}
		if (got < 0) {
			virtio_queue_error(r->vd, qidx, e.msg);
			return;
		}
		virtio_queue_signal(r->vd, qidx);
	} while (virtq_enable_notify(vq));
}

static const struct virtio_device_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max_size = 64,
    .config_size = 0,
    .features = rng_features,
    .config_read = rng_config_read,
    .queue_notify = rng_queue_notify,
    .destroy = free,
};

struct virtio_rng *virtio_rng_attach(struct machine *m, struct errbuf *e)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));

	if (!r) {
		err_set(e, "out of memory creating virtio-rng");
		return NULL;
	}
	r->vd = virtio_mmio_attach(m, &rng_ops, r, e);
	if (!r->vd) {
		free(r);
		return NULL;
	}
	return r;
}

/* On kernel boots unless --no-rng: flat test guests keep their bare machine. */
static int rng_attach_configured(struct machine *m, const struct run_config *rc, struct errbuf *e)
{
	if (!rc->rng || !rc->kernel[0])
		return 0;
	return virtio_rng_attach(m, e) ? 0 : -1;
}

const struct virtio_device_type virtio_rng_type = {
    .name = "virtio-rng",
    .attach = rng_attach_configured,
};
